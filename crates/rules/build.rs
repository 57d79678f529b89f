//! The embedded data files are TOML for people (comments, dated sources) and JSON for the binary:
//! parsing 10 KB of TOML cost about 0.9 M instructions on every run (a fifth of what a small
//! app's whole `preflight` adds to `inspect`), the same data as JSON a tenth of that. The
//! conversion is generic (tables, arrays, strings, numbers, booleans); a unit test checks that
//! both parses give the same data.

use std::path::Path;

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("OUT_DIR");
    for name in ["privacy", "deadlines"] {
        let src = format!("data/{name}.toml");
        println!("cargo:rerun-if-changed={src}");
        let text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{src}: {e}"));
        let json = serde_json::to_string(&to_json(value)).expect("JSON");
        std::fs::write(Path::new(&out).join(format!("{name}.json")), json).expect("write");
    }
}

fn to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => J::from(f),
        toml::Value::Boolean(b) => J::Bool(b),
        // Dates in the data are quoted strings; a bare TOML date would be a mistake in the file.
        toml::Value::Datetime(d) => panic!("write dates as quoted strings, not {d}"),
        toml::Value::Array(items) => J::Array(items.into_iter().map(to_json).collect()),
        toml::Value::Table(table) => {
            J::Object(table.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}
