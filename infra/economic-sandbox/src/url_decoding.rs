//! Reading request URLs: query parameters and e-conomic's resource-id
//! encoding in path segments.

/// Percent-decodes a query component (`+` is a space, as in forms).
pub(crate) fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], percent_escape_at(bytes, i)) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte of a `%XX` escape starting at `at`, if there is one.
fn percent_escape_at(bytes: &[u8], at: usize) -> Option<u8> {
    let hex = bytes.get(at + 1..at + 3)?;
    if bytes[at] != b'%' || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// e-conomic's resource-id codes (REST docs, "Custom resource self-link
/// encoding"); every other character that is not alphanumeric is
/// percent-encoded.
const RESOURCE_ID_CODES: [(&str, char); 14] = [
    ("_0_", '<'),
    ("_1_", '>'),
    ("_2_", '*'),
    ("_3_", '%'),
    ("_4_", ':'),
    ("_5_", '&'),
    ("_6_", '/'),
    ("_7_", '\\'),
    ("_8_", '_'),
    ("_9_", ' '),
    ("_10_", '?'),
    ("_11_", '.'),
    ("_12_", '#'),
    ("_13_", '+'),
];

/// A resource id from its path segment: `_N_` codes and `%XX` escapes are
/// read in one pass from the left. Replacing one code after another would
/// read codes across the boundary of two others (`a_1_b` is sent as
/// `a_8_1_8_b`, whose middle holds `_1_`). In a path `+` is itself.
pub(crate) fn decode_resource_id(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(b) = percent_escape_at(bytes, i) {
            out.push(b);
            i += 3;
            continue;
        }
        let rest = &bytes[i..];
        match RESOURCE_ID_CODES
            .iter()
            .find(|(code, _)| rest.starts_with(code.as_bytes()))
        {
            Some((code, c)) => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += code.len();
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge::adapters::economic::client::encode_resource_id;
    use proptest::prelude::*;

    #[test]
    fn url_and_resource_id_decoding() {
        assert_eq!(
            url_decode("references.other%24eq%3Aa%24%2Cb+c"),
            "references.other$eq:a$,b c"
        );
        assert_eq!(
            decode_resource_id("My_9_Awesome_9_Product_8_Discount5_3_"),
            "My Awesome Product_Discount5%"
        );
        assert_eq!(
            query_param(Some("a=1&filter=x%24eq%3Ay"), "filter").as_deref(),
            Some("x$eq:y")
        );
    }

    #[test]
    fn an_encoded_underscore_next_to_a_digit_decodes_to_itself() {
        // The client sends `a_1_b` as `a_8_1_8_b`; its middle `_1_` is not a code.
        assert_eq!(encode_resource_id("a_1_b"), "a_8_1_8_b");
        assert_eq!(decode_resource_id("a_8_1_8_b"), "a_1_b");
    }

    #[test]
    fn plus_and_bad_escapes_in_a_path_are_kept() {
        assert_eq!(decode_resource_id("A+B%2"), "A+B%2");
        assert_eq!(decode_resource_id("%C3%A6_13_"), "æ+");
        assert_eq!(url_decode("%zz+%4"), "%zz %4");
    }

    /// Identifiers mixing the coded characters, digits and underscores
    /// (where codes can overlap), or any text at all.
    fn resource_ids() -> impl Strategy<Value = String> {
        prop_oneof!["[_0-9<>*%:&/\\\\ ?.#+a-zA-Z~æ-]{0,30}", any::<String>()]
    }

    proptest! {
        #[test]
        fn decoding_undoes_the_clients_encoding(id in resource_ids()) {
            prop_assert_eq!(decode_resource_id(&encode_resource_id(&id)), id);
        }
    }
}
