//! `cargo run --example node_xml -- [COUNT=500] [OUT=/tmp/hvmon-node-COUNT.xml]`: writes a
//! libvirt test-driver node of COUNT domains in the lab mix (tests/support/node_xml.rs, the
//! one generator the tests use too) and prints its URI, `test://` + the absolute path. For
//! the benchmark scripts (scripts/bench-librenms.py, scripts/soak.sh).

#[path = "../tests/support/node_xml.rs"]
mod node_xml;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = match args.next() {
        Some(n) => n.parse().unwrap_or_else(|_| {
            eprintln!("node_xml: COUNT must be a number of domains, not {n:?}");
            std::process::exit(2);
        }),
        None => 500,
    };
    let out = args.next().map_or_else(
        || std::env::temp_dir().join(format!("hvmon-node-{count}.xml")),
        PathBuf::from,
    );
    let out = std::path::absolute(&out).unwrap_or_else(|e| {
        eprintln!("node_xml: {}: {e}", out.display());
        std::process::exit(2);
    });
    println!("{}", node_xml::write_mixed(count, &out));
}
