//! The bindings restate parts of the C ABI (result codes, opcodes, event
//! types, close codes, struct layouts); this test checks every restated value
//! against include/rocwebsocket.h, so a change in the C ABI cannot silently
//! break a binding:
//!
//! - constants: parsed from the header's `#define`s and enums, compared with
//!   the Python package's module constants, `EventType` and `CloseCode` (read
//!   by importing it with python3, the library loader stubbed) and with the Go
//!   package's `Result*`, `Status*` and `Message*` constants (parsed from its
//!   sources);
//! - layouts: every ctypes `Structure` of the Python package, its size and
//!   each field's offset and size, against what a C compiler makes of the
//!   header (`sizeof`/`offsetof` in a generated program). The Go binding
//!   takes its structs from the header through cgo, so it has no layouts of
//!   its own to check.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `RWS_*` integer constants of the header: `#define RWS_X 12` and enum
/// entries `RWS_X = 12,`.
fn header_constants() -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for line in read("include/rocwebsocket.h").lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (name, value) = match words.as_slice() {
            ["#define", name, value] => (*name, *value),
            [name, "=", value] => (*name, value.trim_end_matches(',')),
            _ => continue,
        };
        // cbindgen spells u32::MAX as UINT32_MAX.
        let value = if value == "UINT32_MAX" {
            "4294967295"
        } else {
            value
        };
        if let (true, Ok(v)) = (name.starts_with("RWS_"), value.parse::<i64>()) {
            assert!(
                out.insert(name.to_owned(), v).is_none(),
                "{name} defined twice"
            );
        }
    }
    assert!(out.len() > 40, "the header parser found only {out:?}");
    out
}

const PY_DUMP: &str = r#"
import ctypes, sys
class _Fn:
    def __call__(self, *args):
        return 0
class _Lib:
    def __getattr__(self, name):
        f = _Fn()
        object.__setattr__(self, name, f)
        return f
ctypes.CDLL = lambda *a, **k: _Lib()  # layouts and constants need no library
sys.path.insert(0, sys.argv[1])
from rocwebsocket import _ffi, _types, _batch
for name, value in sorted(vars(_ffi).items()):
    if name.startswith("RWS_") and isinstance(value, int):
        print("const", name, value)
for member in _types.EventType:
    print("const", "RWS_EVENT_" + member.name, int(member))
for member in _types.CloseCode:
    print("const", "RWS_CLOSE_" + member.name, int(member))
seen = set()
for module in (_ffi, _batch):
    for name, cls in sorted(vars(module).items()):
        if isinstance(cls, type) and issubclass(cls, ctypes.Structure) and cls is not ctypes.Structure and name not in seen:
            seen.add(name)
            print("struct", name, ctypes.sizeof(cls))
            for field in cls._fields_:
                d = getattr(cls, field[0])
                print("field", name, field[0], d.offset, d.size)
"#;

/// A ctypes struct: its size and its fields as (name, offset, size).
type Layout = (usize, Vec<(String, usize, usize)>);

struct PyAbi {
    constants: Vec<(String, i64)>,
    structs: BTreeMap<String, Layout>,
}

fn python_abi() -> PyAbi {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY_DUMP)
        .arg(root().join("bindings/python"))
        .env("ROCWS_LIB", "librocwebsocket.so")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut abi = PyAbi {
        constants: Vec::new(),
        structs: BTreeMap::new(),
    };
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["const", name, value] => abi
                .constants
                .push((name.to_string(), value.parse().unwrap())),
            ["struct", name, size] => {
                abi.structs
                    .insert(name.to_string(), (size.parse().unwrap(), Vec::new()));
            }
            ["field", s, f, offset, size] => abi.structs.get_mut(*s).unwrap().1.push((
                f.to_string(),
                offset.parse().unwrap(),
                size.parse().unwrap(),
            )),
            _ => panic!("unexpected dump line {line:?}"),
        }
    }
    abi
}

#[test]
fn python_constants_match_the_header() {
    let header = header_constants();
    let py = python_abi();
    let mut checked = 0;
    for (name, value) in &py.constants {
        let Some(h) = header.get(name) else {
            panic!("Python restates {name} = {value}, which the header does not define");
        };
        assert_eq!(value, h, "Python's {name} differs from the header's");
        checked += 1;
    }
    // The other way: every result code, event type and close code of the
    // header has its Python counterpart.
    let py_names: Vec<&str> = py.constants.iter().map(|(n, _)| n.as_str()).collect();
    for name in header.keys() {
        let result_code = name.starts_with("RWS_ERR_")
            || ["RWS_OK", "RWS_NONE", "RWS_NEED_MORE"].contains(&name.as_str());
        let wanted =
            result_code || name.starts_with("RWS_EVENT_") || name.starts_with("RWS_CLOSE_");
        assert!(
            !wanted || py_names.contains(&name.as_str()),
            "the Python binding lacks {name}"
        );
    }
    assert!(checked > 40, "only {checked} Python constants checked");
}

/// `CamelCase` -> `CAMEL_CASE` (`UTF8` and `IO` stay whole).
fn snake(camel: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = camel.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() && chars[i - 1].is_ascii_lowercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The header name of a Go close-code constant (Go follows gorilla's names).
fn go_status_name(go: &str) -> Option<&'static str> {
    Some(match go {
        "StatusNormalClosure" => "RWS_CLOSE_NORMAL",
        "StatusGoingAway" => "RWS_CLOSE_GOING_AWAY",
        "StatusProtocolError" => "RWS_CLOSE_PROTOCOL_ERROR",
        "StatusUnsupportedData" => "RWS_CLOSE_UNSUPPORTED_DATA",
        "StatusNoStatusRcvd" => "RWS_CLOSE_NO_STATUS",
        "StatusAbnormalClosure" => "RWS_CLOSE_ABNORMAL",
        "StatusInvalidFramePayloadData" => "RWS_CLOSE_INVALID_PAYLOAD",
        "StatusPolicyViolation" => "RWS_CLOSE_POLICY_VIOLATION",
        "StatusMessageTooBig" => "RWS_CLOSE_TOO_BIG",
        "StatusMandatoryExtension" => "RWS_CLOSE_MANDATORY_EXTENSION",
        "StatusInternalError" => "RWS_CLOSE_INTERNAL_ERROR",
        "StatusServiceRestart" => "RWS_CLOSE_SERVICE_RESTART",
        "StatusTryAgainLater" => "RWS_CLOSE_TRY_AGAIN_LATER",
        "StatusBadGateway" => "RWS_CLOSE_BAD_GATEWAY",
        "StatusTLSHandshake" => "RWS_CLOSE_TLS_HANDSHAKE",
        _ => return None,
    })
}

/// `Name Type = 12` constants of the Go package whose type is `Result`,
/// `StatusCode` or `MessageType`.
fn go_constants() -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("bindings/go")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let code = line.split("//").next().unwrap();
            let w: Vec<&str> = code.split_whitespace().collect();
            if let [name, ty @ ("Result" | "StatusCode" | "MessageType"), "=", value] = w.as_slice()
            {
                if let Ok(v) = value.parse() {
                    out.push((name.to_string(), ty.to_string(), v));
                }
            }
        }
    }
    out
}

#[test]
fn go_constants_match_the_header() {
    let header = header_constants();
    let go = go_constants();
    let mut kinds = HashMap::new();
    for (name, ty, value) in &go {
        if ty == "Result" && *value < 0 {
            continue; // a Go-only sentinel (ResultStartFailed), not an rws_result
        }
        let header_name = match ty.as_str() {
            "Result" => {
                let s = snake(name.strip_prefix("Result").unwrap());
                let err = format!("RWS_ERR_{s}");
                if header.contains_key(&err) {
                    err
                } else {
                    format!("RWS_{s}")
                }
            }
            "StatusCode" => go_status_name(name)
                .unwrap_or_else(|| panic!("map the Go close code {name} to its header name here"))
                .to_owned(),
            _ => format!(
                "RWS_OPCODE_{}",
                snake(name.strip_prefix("Message").unwrap())
            ),
        };
        let Some(h) = header.get(&header_name) else {
            panic!("Go's {name} = {value} has no {header_name} in the header");
        };
        assert_eq!(
            value, h,
            "Go's {name} differs from the header's {header_name}"
        );
        *kinds.entry(ty.as_str()).or_insert(0) += 1;
    }
    assert!(
        kinds.get("Result") >= Some(&10)
            && kinds.get("StatusCode") == Some(&15)
            && kinds.get("MessageType") == Some(&2),
        "the Go parser missed constants: {kinds:?}"
    );
}

#[test]
fn python_struct_layouts_match_the_header() {
    let py = python_abi();
    assert!(
        py.structs.contains_key("rws_event") && py.structs.contains_key("rws_event_batch"),
        "{:?}",
        py.structs.keys()
    );
    // A C program printing what the compiler makes of the header.
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"rocwebsocket.h\"\nint main(void) {\n",
    );
    for (name, (_, fields)) in &py.structs {
        c += &format!("    printf(\"struct {name} %zu\\n\", sizeof({name}));\n");
        for (f, _, _) in fields {
            c += &format!(
                "    printf(\"field {name} {f} %zu %zu\\n\", offsetof({name}, {f}), sizeof((({name} *)0)->{f}));\n"
            );
        }
    }
    c += "    return 0;\n}\n";
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("binding_abi");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    std::fs::write(&source, c).unwrap();
    let program = dir.join("layout");
    let status = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(root().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .status()
        .expect("cc runs");
    assert!(
        status.success(),
        "a ctypes struct or field is not in the header"
    );
    let out = Command::new(&program).output().unwrap();
    let c_lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut py_lines = Vec::new();
    for (name, (size, fields)) in &py.structs {
        py_lines.push(format!("struct {name} {size}"));
        for (f, offset, size) in fields {
            py_lines.push(format!("field {name} {f} {offset} {size}"));
        }
    }
    assert_eq!(
        py_lines, c_lines,
        "ctypes layouts (left) differ from the C header's (right)"
    );
}
