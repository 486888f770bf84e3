//! Generates the C header from src/ffi with cbindgen.
//!
//! The header goes to OUT_DIR; `ROCWS_WRITE_HEADER=1` also writes the
//! committed copy in include/. A test compares the two, so a stale committed
//! header fails `cargo test`.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=ROCWS_WRITE_HEADER");
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let generated = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(g) => g,
        Err(e) => {
            // A syntax error in src is reported by rustc more clearly than here.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let header = out_dir.join("rocwebsocket.h");
    generated.write_to_file(&header);
    if std::env::var_os("ROCWS_WRITE_HEADER").is_some() {
        std::fs::create_dir_all(crate_dir.join("include")).expect("include/ can be made");
        generated.write_to_file(crate_dir.join("include/rocwebsocket.h"));
    }
}
