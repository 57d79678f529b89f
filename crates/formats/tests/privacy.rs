//! Every privacy manifest of the shared corpus parses, with the keys `facts.json` lists and no
//! structural problem (opt-in: `IPAGATE_CORPUS=../shared/corpus`).

#[test]
fn corpus_privacy_manifests_parse_and_agree_with_facts() {
    let Some(root) = std::env::var_os("IPAGATE_CORPUS").map(std::path::PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but IPAGATE_CORPUS (../shared/corpus) is not"
        );
        eprintln!(
            "skipped: set IPAGATE_CORPUS=../shared/corpus to read the corpus's privacy manifests"
        );
        return;
    };
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("facts.json")).expect("facts.json"))
            .expect("facts.json is JSON");
    let mut seen = 0;
    for (path, file) in facts["files"].as_object().expect("files") {
        if file["kind"] != "xcprivacy" {
            continue;
        }
        let bytes = std::fs::read(root.join(path)).expect("read manifest");
        let manifest =
            ipagate_formats::privacy::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            manifest.problems.is_empty(),
            "{path}: {:?}",
            manifest.problems
        );
        let keys: Vec<&str> = file["summary"]["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys.contains(&"NSPrivacyTracking"),
            manifest.tracking.is_some(),
            "{path}"
        );
        if keys.contains(&"NSPrivacyAccessedAPITypes") {
            for api in &manifest.accessed_apis {
                assert!(
                    api.category
                        .as_deref()
                        .is_some_and(|c| c.starts_with("NSPrivacyAccessedAPICategory")),
                    "{path}: {api:?}"
                );
                assert!(!api.reasons.is_empty(), "{path}: {api:?}");
            }
        }
        seen += 1;
    }
    assert!(seen >= 5, "the corpus has {seen} privacy manifests");
}
