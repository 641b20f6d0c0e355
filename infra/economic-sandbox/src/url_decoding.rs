//! Reading request URLs: query parameters and e-conomic's resource-id
//! encoding in path segments.

/// Percent-decodes a query component (`+` is a space, as in forms).
pub(crate) fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// e-conomic's custom resource-id encoding, reversed.
pub(crate) fn decode_resource_id(segment: &str) -> String {
    let mut s = url_decode(segment);
    for (code, c) in [
        ("_10_", "?"),
        ("_11_", "."),
        ("_12_", "#"),
        ("_13_", "+"),
        ("_0_", "<"),
        ("_1_", ">"),
        ("_2_", "*"),
        ("_3_", "%"),
        ("_4_", ":"),
        ("_5_", "&"),
        ("_6_", "/"),
        ("_7_", "\\"),
        ("_9_", " "),
        ("_8_", "_"),
    ] {
        s = s.replace(code, c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
