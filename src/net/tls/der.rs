//! Just enough DER to find a certificate's SubjectPublicKeyInfo (for key
//! pinning): RFC 5280 §4.1, walked without allocating.

/// One TLV at the start of an input: (tag, whole TLV, contents, rest).
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some((tag, &input[..header + len], &rest[..len], &rest[len..]))
}

/// The DER bytes (tag and length included) of the certificate's
/// `subjectPublicKeyInfo`, or `None` if `cert` is not a certificate.
pub(super) fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, _, certificate, _) = tlv(cert)? else {
        return None;
    };
    let (SEQUENCE, _, tbs, _) = tlv(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    // version [0] EXPLICIT (absent for v1)
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.3;
    }
    // serialNumber, signature, issuer, validity, subject
    for expected in [0x02, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        let (tag, _, _, next) = tlv(rest)?;
        if tag != expected {
            return None;
        }
        rest = next;
    }
    let (SEQUENCE, spki, _, _) = tlv(rest)? else {
        return None;
    };
    Some(spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_garbage() {
        assert!(subject_public_key_info(&[]).is_none());
        assert!(subject_public_key_info(&[0x30, 0x82, 0xff]).is_none());
        assert!(subject_public_key_info(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_none());
        assert!(subject_public_key_info(&[0x04, 0x00]).is_none());
    }
}
