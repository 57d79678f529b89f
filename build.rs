//! Makes the opt-in real-corpus tests (`tests/e2e/corpus.rs`) show as *ignored*, with the reason, in cargo's own
//! summary when there is no corpus to run them on: libtest can only ignore at compile time, so the environment is
//! read here. `IPAGATE_CORPUS` set runs them; `CI` set runs them too, so a CI without the corpus fails loudly
//! instead of passing quietly.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ipagate_corpus)");
    println!("cargo::rerun-if-env-changed=IPAGATE_CORPUS");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var_os("IPAGATE_CORPUS").is_some() || std::env::var_os("CI").is_some() {
        println!("cargo::rustc-cfg=ipagate_corpus");
    }
}
