//! `cargo run --example deb_assets`: regenerates debian/generated/ (man page, completions, the
//! snippets with the package's paths) for `cargo deb`. Run it after changing the CLI, src/error.rs
//! `exit` or a snippet; tests/deb_assets.rs fails until the committed files match.

mod generate;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/generated");
    // Start empty so a file no longer generated does not linger in the package.
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    for asset in generate::assets() {
        let path = root.join(asset.path);
        std::fs::create_dir_all(path.parent().expect("under debian/generated"))?;
        std::fs::write(&path, &asset.bytes)?;
        let mode = if asset.bytes.starts_with(b"#!") {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        println!("{}", path.display());
    }
    Ok(())
}
