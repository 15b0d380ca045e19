//! What a user pastes from the README and docs/ builds as shown: every Markdown file with a
//! `rust` block is included as doc tests of the `fbench` crate (`mod user_docs` in src/lib.rs), which `cargo test -p
//! fbench --doc` compiles and runs. This test keeps a new guide from slipping past that.

use std::path::Path;

/// Markdown files with a block labelled `rust`. (Unlabelled blocks there are program output;
/// in an included file rustdoc would compile them as Rust, so included files label them.)
fn with_rust_blocks(root: &Path) -> Vec<String> {
    let mut files = vec!["README.md".to_string()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    files.sort();
    files
        .into_iter()
        .filter(|file| {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let mut open = false;
            text.lines().any(|line| {
                let Some(label) = line.trim_start().strip_prefix("```") else {
                    return false;
                };
                open = !open;
                open && label.starts_with("rust")
            })
        })
        .collect()
}

#[test]
fn every_markdown_file_with_rust_blocks_is_a_doc_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let missing: Vec<String> = with_rust_blocks(root)
        .into_iter()
        .filter(|file| !lib.contains(&format!("include_str!(\"../{file}\")")))
        .collect();
    assert!(
        missing.is_empty(),
        "Rust blocks not compiled as doc tests (add them to `mod user_docs` in src/lib.rs): {missing:?}"
    );
}
