//! Negotiation of permessage-deflate (RFC 7692 §5 and §7.1): the offers in
//! `Sec-WebSocket-Extensions`, the server's answer, the client's check of it.
//!
//! An offer the server cannot honour, or that breaks §7.1 (an unknown or
//! repeated parameter, a bad value), is declined and the next offer tried;
//! the client fails the connection on an answer it did not offer or that
//! breaks the same rules.

use super::{DeflateConfig, DeflateParams};

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// One parameter of an extension element: its name and its value (unquoted).
type Param = (String, Option<String>);

/// One element of an extension list: a name and its parameters, or `None`
/// when its syntax is broken (RFC 7230 tokens and quoted strings).
type Element = Option<(String, Vec<Param>)>;

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Splits header values into extension elements, in order; an element with
/// broken syntax is kept as `None` so the caller can decline it.
pub fn parse_elements<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Element> {
    let mut out = Vec::new();
    for value in values {
        let mut rest = value.as_bytes();
        loop {
            let (element, tail) = parse_element(rest);
            // Empty list items (", ,") are allowed by the list syntax.
            if !matches!(&element, Some((name, _)) if name.is_empty()) {
                out.push(element);
            }
            match tail {
                Some(t) => rest = t,
                None => break,
            }
        }
    }
    out
}

/// Parses one element up to the next top-level comma; returns it and the
/// bytes after that comma (`None` at the end of the value).
fn parse_element(s: &[u8]) -> (Element, Option<&[u8]>) {
    let mut i = 0;
    let mut ok = true;
    let mut name = String::new();
    let mut params = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == b' ' || s[*i] == b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> String {
        let start = *i;
        while *i < s.len() && is_tchar(s[*i]) {
            *i += 1;
        }
        String::from_utf8_lossy(&s[start..*i]).into_owned()
    };
    skip_ws(&mut i);
    name.push_str(&token(&mut i));
    skip_ws(&mut i);
    while i < s.len() && s[i] == b';' {
        i += 1;
        skip_ws(&mut i);
        let pname = token(&mut i);
        if pname.is_empty() {
            ok = false;
        }
        skip_ws(&mut i);
        let mut value = None;
        if i < s.len() && s[i] == b'=' {
            i += 1;
            skip_ws(&mut i);
            if i < s.len() && s[i] == b'"' {
                i += 1;
                let mut v = Vec::new();
                let mut closed = false;
                while i < s.len() {
                    match s[i] {
                        b'"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        b'\\' if i + 1 < s.len() => {
                            v.push(s[i + 1]);
                            i += 2;
                        }
                        c => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                ok &= closed;
                value = Some(String::from_utf8_lossy(&v).into_owned());
            } else {
                let v = token(&mut i);
                ok &= !v.is_empty();
                value = Some(v);
            }
            skip_ws(&mut i);
        }
        params.push((pname, value));
    }
    // Anything else before the comma is a syntax error.
    let end = s[i..].iter().position(|&c| c == b',').map(|p| i + p);
    let stop = end.unwrap_or(s.len());
    if stop != i || (name.is_empty() && !params.is_empty()) {
        ok = false;
    }
    let tail = end.map(|e| &s[e + 1..]);
    (ok.then_some((name, params)), tail)
}

/// A `*_max_window_bits` value: a decimal 8 to 15 without leading zeros (§7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    match value.parse::<u8>() {
        Ok(n @ 8..=15) if !value.starts_with('0') && value.len() <= 2 => Some(n),
        _ => None,
    }
}

/// The parameters of one offer or answer, checked against §7.1: known names
/// only, each at most once, values where the RFC wants them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: valueless (only valid in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_params(params: &[Param]) -> Option<Parsed> {
    let mut p = Parsed::default();
    let mut seen = [false; 4];
    for (name, value) in params {
        let index = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => {
                p.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                p.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                p.server_max_window_bits = Some(window_bits(value.as_deref()?)?);
                2
            }
            "client_max_window_bits" => {
                p.client_max_window_bits = Some(match value {
                    Some(v) => Some(window_bits(v)?),
                    None => None,
                });
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
    }
    Some(p)
}

/// The server's choice among the client's offers (`Sec-WebSocket-Extensions`
/// values, in order): the first permessage-deflate offer it can honour, as
/// the parameters in force and the header value to answer with. `None`
/// when deflate is off or every offer was declined.
pub fn server_accept<'a>(
    offers: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    if !config.enabled {
        return None;
    }
    for element in parse_elements(offers) {
        let Some((name, params)) = element else {
            continue;
        };
        if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
            continue;
        }
        let Some(offer) = parse_params(&params) else {
            continue;
        };
        // Our own compressor: as small as the configuration and the offer say.
        // The offer's 8 works with zlib's 9 (its distances stay under 256).
        let server_bits = offer
            .server_max_window_bits
            .map_or(config.window_bits, |b| b.min(config.window_bits));
        let server_nct = offer.server_no_context_takeover || config.no_context_takeover;
        let client_nct = offer.client_no_context_takeover || config.peer_no_context_takeover;
        let client_bits = match offer.client_max_window_bits {
            None => None,
            Some(limit) => {
                let limit = limit.unwrap_or(15).min(config.peer_window_bits);
                (limit < 15 || offer.client_max_window_bits != Some(None)).then_some(limit)
            }
        };
        let params = DeflateParams {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits.unwrap_or(15),
        };
        let mut answer = String::from(EXTENSION_NAME);
        if server_nct {
            answer.push_str("; server_no_context_takeover");
        }
        if client_nct {
            answer.push_str("; client_no_context_takeover");
        }
        if offer.server_max_window_bits.is_some() {
            answer.push_str(&format!("; server_max_window_bits={server_bits}"));
        }
        if let Some(bits) = client_bits {
            answer.push_str(&format!("; client_max_window_bits={bits}"));
        }
        return Some((params, answer));
    }
    None
}

/// The client's offer for `config`, or `None` when deflate is off. It
/// always offers a valueless `client_max_window_bits`: any window the
/// server asks for can be honoured.
pub fn client_offer(config: &DeflateConfig) -> Option<String> {
    if !config.enabled {
        return None;
    }
    let mut offer = String::from(EXTENSION_NAME);
    if config.no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if config.peer_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.peer_window_bits < 15 {
        offer.push_str(&format!(
            "; server_max_window_bits={}",
            config.peer_window_bits
        ));
    }
    offer.push_str("; client_max_window_bits");
    Some(offer)
}

/// Why a server's extension answer fails the connection (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// An extension that was not offered, or permessage-deflate when deflate is off.
    NotOffered,
    /// permessage-deflate more than once.
    Repeated,
    /// Broken syntax, an unknown or repeated parameter, a bad value, or a
    /// window larger than the one offered.
    BadParameters,
}

/// Checks the server's `Sec-WebSocket-Extensions` answer against the offer
/// made for `config`: the parameters in force, `None` if the server did not
/// take the extension.
pub fn client_check<'a>(
    answers: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, AnswerError> {
    let mut chosen = None;
    for element in parse_elements(answers) {
        let Some((name, params)) = element else {
            return Err(AnswerError::BadParameters);
        };
        if !config.enabled || !name.eq_ignore_ascii_case(EXTENSION_NAME) {
            return Err(AnswerError::NotOffered);
        }
        if chosen.is_some() {
            return Err(AnswerError::Repeated);
        }
        let p = parse_params(&params).ok_or(AnswerError::BadParameters)?;
        let client_bits = match p.client_max_window_bits {
            // A valueless client_max_window_bits is an offer's, not an answer's.
            Some(None) => return Err(AnswerError::BadParameters),
            Some(Some(b)) => b,
            None => 15,
        };
        let server_bits = p.server_max_window_bits.unwrap_or(15);
        if config.peer_window_bits < 15 && server_bits > config.peer_window_bits {
            return Err(AnswerError::BadParameters);
        }
        chosen = Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover || config.no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits.min(config.window_bits),
        });
    }
    Ok(chosen)
}
