//! A PEM CA bundle, parsed and checked the way the TLS stack will use it, before the SDK sees
//! it: a certificate that cannot be a root is named with its position, not silently dropped
//! (issue 10). What the TLS stack gets is the DER of the certificates that passed. Pure.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::CertificateDer;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const CERTIFICATE: &[u8] = b"CERTIFICATE";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("holds no PEM certificate")]
    NoCertificate,
    /// `index` counts certificates from 1, `line` the file's lines from 1.
    #[error("certificate {index} (line {line}) has no END line")]
    Unterminated { index: usize, line: usize },
    #[error("certificate {index} (line {line}) is not valid base64")]
    NotBase64 { index: usize, line: usize },
    #[error("certificate {index} (line {line}) is not a usable X.509 certificate ({cause})")]
    NotCertificate {
        index: usize,
        line: usize,
        cause: String,
    },
}

/// The certificates of `pem` in DER, each checked as a trust anchor. Other PEM blocks (keys,
/// CRLs) and text between blocks are skipped, as the TLS stack skips them.
pub fn parse(pem: &[u8]) -> Result<Vec<Vec<u8>>, BundleError> {
    let mut certificates = Vec::new();
    // (label, first line, base64 so far) of the block being read.
    let mut open: Option<(Vec<u8>, usize, Vec<u8>)> = None;
    let mut index = 0;
    for (number, line) in pem.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        let number = number + 1;
        if let Some(label) = line.strip_prefix(BEGIN).and_then(label) {
            if let Some((open_label, start, _)) = &open
                && open_label == CERTIFICATE
            {
                return Err(BundleError::Unterminated {
                    index,
                    line: *start,
                });
            }
            if label == CERTIFICATE {
                index += 1;
            }
            open = Some((label.to_vec(), number, Vec::new()));
        } else if let Some(label) = line.strip_prefix(END).and_then(label) {
            match open.take() {
                Some((open_label, start, base64))
                    if open_label == label && label == CERTIFICATE =>
                {
                    certificates.push(certificate(&base64, index, start)?);
                }
                Some((open_label, ..)) if open_label == label => {}
                // An END that closes nothing, or another block: a broken certificate if one
                // was open, else text between blocks.
                Some((open_label, start, _)) if open_label == CERTIFICATE => {
                    return Err(BundleError::Unterminated { index, line: start });
                }
                _ => {}
            }
        } else if let Some((_, _, base64)) = &mut open {
            base64.extend_from_slice(line);
        }
    }
    if let Some((label, start, _)) = open
        && label == CERTIFICATE
    {
        return Err(BundleError::Unterminated { index, line: start });
    }
    if certificates.is_empty() {
        return Err(BundleError::NoCertificate);
    }
    Ok(certificates)
}

/// `LABEL-----` → `LABEL`.
fn label(rest: &[u8]) -> Option<&[u8]> {
    rest.strip_suffix(b"-----")
}

fn certificate(base64: &[u8], index: usize, line: usize) -> Result<Vec<u8>, BundleError> {
    let der = STANDARD
        .decode(base64)
        .map_err(|_| BundleError::NotBase64 { index, line })?;
    webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).map_err(|error| {
        BundleError::NotCertificate {
            index,
            line,
            cause: crate::sanitize::bounded(&format!("{error:?}"), 100),
        }
    })?;
    Ok(der)
}

/// Certificates back to PEM, in the plain form every parser reads.
pub fn to_pem(certificates: &[Vec<u8>]) -> Vec<u8> {
    let mut pem = Vec::new();
    for der in certificates {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        let base64 = STANDARD.encode(der);
        for chunk in base64.as_bytes().chunks(64) {
            pem.extend_from_slice(chunk);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_bundle() -> Vec<u8> {
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").expect("the system CA bundle")
    }

    #[test]
    fn the_system_bundle_parses_and_survives_a_round_trip() {
        let certificates = parse(&system_bundle()).unwrap();
        assert!(certificates.len() > 50, "{}", certificates.len());
        assert_eq!(parse(&to_pem(&certificates)).unwrap(), certificates);
    }

    #[test]
    fn each_broken_form_names_the_certificate_and_its_line() {
        let good = to_pem(&parse(&system_bundle()).unwrap()[..1]);
        let good_text = String::from_utf8(good.clone()).unwrap();
        let lines = good_text.lines().count();
        let appended = |tail: &str| format!("{good_text}{tail}").into_bytes();
        let one_bad_char = good_text.replacen("\nMII", "\nM!I", 1);
        let truncated: String = good_text.lines().take(5).collect::<Vec<_>>().join("\n");
        let table: Vec<(Vec<u8>, BundleError)> = vec![
            (Vec::new(), BundleError::NoCertificate),
            (b"hello".to_vec(), BundleError::NoCertificate),
            (
                b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
                BundleError::NoCertificate,
            ),
            (
                one_bad_char.into_bytes(),
                BundleError::NotBase64 { index: 1, line: 1 },
            ),
            (
                truncated.into_bytes(),
                BundleError::Unterminated { index: 1, line: 1 },
            ),
            (
                appended("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                BundleError::NotCertificate {
                    index: 2,
                    line: lines + 1,
                    cause: "TrailingData(SignedData)".into(),
                },
            ),
            (
                appended("-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"),
                BundleError::NotBase64 {
                    index: 2,
                    line: lines + 1,
                },
            ),
            (
                appended("-----BEGIN CERTIFICATE-----\nAAAA\n"),
                BundleError::Unterminated {
                    index: 2,
                    line: lines + 1,
                },
            ),
            (
                appended("-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                BundleError::Unterminated {
                    index: 2,
                    line: lines + 1,
                },
            ),
        ];
        for (input, expected) in table {
            assert_eq!(
                parse(&input),
                Err(expected.clone()),
                "{}",
                String::from_utf8_lossy(&input)
            );
        }
        // Text between blocks, CRLF line ends and other blocks are fine.
        let decorated = format!(
            "# comment\r\n{}\r\n-----BEGIN X509 CRL-----\r\nAAAA\r\n-----END X509 CRL-----\r\n",
            good_text.replace('\n', "\r\n")
        );
        assert_eq!(parse(decorated.as_bytes()).unwrap().len(), 1);
    }
}
