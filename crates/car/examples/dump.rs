//! Prints what the reader sees in an `Assets.car`: `cargo run -p ipagate-car --example dump -- FILE`.

use ipagate_car::AssetCatalog;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        let car = AssetCatalog::parse(&bytes)?;
        println!(
            "{path}: CoreUI {} storage {} ({}), {} facets, {} renditions, thinned: {}",
            car.header.coreui_version,
            car.header.storage_version,
            car.header.version,
            car.facets.len(),
            car.renditions.len(),
            car.is_thinned()
        );
        for r in &car.renditions {
            let compression = match &r.payload {
                ipagate_car::Payload::Pixels {
                    compression, flags, ..
                } => {
                    format!("{compression} flags {flags:#x}")
                }
                other => format!("{other:?}").chars().take(40).collect(),
            };
            println!(
                "  {:<24} idiom {:<10} scale {} app {:>2} dim2 {} {}x{} {:<5} layout {:<20} {} pts {:?} -> {:?}",
                r.facet.as_deref().unwrap_or("?"),
                r.idiom(),
                r.scale(),
                r.appearance(),
                r.get(ipagate_car::Attribute::Dimension2),
                r.csi.width,
                r.csi.height,
                r.csi.pixel_format,
                r.csi.layout,
                compression,
                r.size_points,
                car.opacity(r),
            );
        }
    }
    Ok(())
}
