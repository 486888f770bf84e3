//! Generates the C header from src/ffi with cbindgen.
//!
//! The header goes to OUT_DIR; `ROCWS_WRITE_HEADER=1` also writes the
//! committed copy in include/. A test compares the two, so a stale committed
//! header fails `cargo test`.
//!
//! On Linux the shared library gets the SONAME `librocwebsocket.so.<major>`
//! (the major version bumps with every C ABI break), and a
//! `librocwebsocket.so.<major>` symlink next to the built library lets
//! programs linked against target/<profile> (the C tests, the Go binding) run
//! from there. `scripts/install.sh` installs it as `.so.<version>`.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    // cbindgen reads the whole crate (a pub const anywhere reaches the header).
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=ROCWS_WRITE_HEADER");
    soname();
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
    let mut text = Vec::new();
    generated.write(&mut text);
    let text = squeeze_blank_lines(&String::from_utf8(text).expect("cbindgen writes UTF-8"));
    std::fs::write(out_dir.join("rocwebsocket.h"), &text).expect("OUT_DIR is writable");
    if std::env::var_os("ROCWS_WRITE_HEADER").is_some() {
        std::fs::create_dir_all(crate_dir.join("include")).expect("include/ can be made");
        std::fs::write(crate_dir.join("include/rocwebsocket.h"), &text)
            .expect("include/rocwebsocket.h is writable");
    }
}

/// Collapses runs of blank lines into one (cbindgen leaves a blank run where
/// it skips items).
fn squeeze_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            if blank {
                continue;
            }
            blank = true;
        } else {
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Gives the cdylib its SONAME and links `librocwebsocket.so.<major>` to it
/// in the target directory, where the loader of a program linked against the
/// build looks for it.
fn soname() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let soname = format!("librocwebsocket.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<package>-<hash>/out.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join(&soname);
    if std::fs::symlink_metadata(&link).is_err() {
        // The link dangles until the library is linked; a failure only costs
        // running target/ builds without LD_LIBRARY_PATH, so it is a warning.
        #[cfg(unix)]
        if let Err(e) = std::os::unix::fs::symlink("librocwebsocket.so", &link) {
            println!("cargo:warning=cannot link {}: {e}", link.display());
        }
    }
}
