//! Prints a summary of each package given on the command line (a development aid).
fn main() {
    for arg in std::env::args().skip(1) {
        match ipagate_formats::Package::open(arg.as_ref(), &ipagate_formats::Limits::default())
            .and_then(|p| ipagate_formats::inspect(&p).map(|f| (p.layout(), f)))
        {
            Ok((layout, f)) => {
                println!("{arg}: {layout:?}");
                for b in &f.bundles {
                    let info = b.info();
                    println!(
                        "   {:?} {} id={:?} v={:?} b={:?} fmt={:?} exe={}",
                        b.kind,
                        b.path,
                        info.and_then(|i| i.bundle_id_str()),
                        info.and_then(|i| i.short_version.clone()),
                        info.and_then(|i| i.build_version.clone()),
                        info.and_then(|i| i.format),
                        b.executable_exists
                    );
                }
            }
            Err(e) => println!("{arg}: ERROR {e}"),
        }
    }
}
