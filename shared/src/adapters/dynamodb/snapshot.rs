//! How the orders table stores an order's snapshot: compressed, so that a
//! typical order's item stays under 1 KB and every write to it costs one
//! write unit instead of two (DynamoDB bills writes per started KB of the
//! whole item, whatever the write changes).
//!
//! Stored form (binary attribute `snapshot`): one format byte, then raw
//! DEFLATE of the snapshot's JSON text without its insignificant
//! whitespace, compressed against a preset dictionary of the order
//! contract's keys. Minifying keeps every value as sent (amounts keep their
//! digits); only whitespace between tokens goes. A five-line order of
//! 1,336 bytes is stored in about 310. Items written before this format hold the
//! JSON text as a string attribute and are read as they are.
//!
//! The dictionary is part of the stored format: changing a byte of it
//! makes every stored snapshot unreadable. A new dictionary needs a new
//! format byte, and this module keeps reading the old one.

use miniz_oxide::deflate::core::{compress, CompressorOxide, TDEFLFlush, TDEFLStatus};
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::DataFormat;

/// The format byte of DEFLATE against [`DICTIONARY_V1`].
const FORMAT_DEFLATE_V1: u8 = 1;

/// No snapshot is larger than a webhook body (256 KiB by default, 6 MB at
/// most on Lambda); anything that inflates past this is not ours.
const MAX_SNAPSHOT_BYTES: usize = 8 * 1024 * 1024;

/// Strings an order snapshot is likely to repeat, most common last (the
/// nearest matches are the cheapest). Never edit: see the module.
const DICTIONARY_V1: &[u8] = br#"{"platform":"shopify","payload_version":"2025-10","body":{"line_items":[{"id":,"title":"","price":"","variant_id":,"product_id":,"fulfillable_quantity":,"total_discount":"0.00","tax_lines":[{"rate":0.25,"price":"","title":"Moms"}],"gift_card":false,"requires_shipping":true,"taxable":true}],"customer_id":,"vat_number":"","company":"","shipping_address":{"name":"","street":"","zip":"","city":"","country":"DK"},"tax_included":true,"financial_status":"paid","order_number":,"id":"","number":"","created_at":"2026-","currency":"DKK","prices_include_vat":true,"customer":{"id":"","name":"","email":"","phone":"+45 ","logged_in":true},"billing_address":{"name":"","street":"","zip":"","city":"","country":"DK"},"payment_method":"card","fees":[{"kind":"payment_fee","label":"","amount":""}],"discounts":[{"kind":"discount_code","label":"","amount":""}],"shipping":{"name":"","price":"","vat_rate":"25"},"total":"","lines":[{"sku":"","name":"","quantity":"1","unit_price":"","vat_rate":"25"},{"sku":"SKU-","name":"","quantity":"2","unit_price":".00","vat_rate":"25"}]"#;

/// A stored snapshot that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SnapshotError(&'static str);

/// The stored form of `snapshot` (see the module).
pub fn encode(snapshot: &str) -> Vec<u8> {
    let text = minify(snapshot);
    let mut compressor = CompressorOxide::new(0);
    compressor.set_format_and_level(DataFormat::Raw, 9);
    // The dictionary goes through the compressor first, so that the
    // snapshot's matches can reach back into it; its own output (ending on
    // a byte boundary after the sync flush) is not stored.
    let mut discarded = vec![0; DICTIONARY_V1.len() + 64];
    let (status, consumed, _) = compress(
        &mut compressor,
        DICTIONARY_V1,
        &mut discarded,
        TDEFLFlush::Sync,
    );
    debug_assert_eq!((status, consumed), (TDEFLStatus::Okay, DICTIONARY_V1.len()));

    let mut out = vec![FORMAT_DEFLATE_V1];
    let mut input = text.as_bytes();
    let mut chunk = vec![0; text.len() / 2 + 64];
    loop {
        let (status, consumed, written) =
            compress(&mut compressor, input, &mut chunk, TDEFLFlush::Finish);
        out.extend_from_slice(&chunk[..written]);
        input = &input[consumed..];
        match status {
            TDEFLStatus::Done => return out,
            TDEFLStatus::Okay => continue,
            // Cannot happen with valid parameters; keep the text readable
            // rather than lose it.
            _ => return stored_text(snapshot),
        }
    }
}

/// A snapshot stored as it came, should compression ever refuse: the string
/// form older items have too.
fn stored_text(snapshot: &str) -> Vec<u8> {
    let mut out = vec![FORMAT_TEXT];
    out.extend_from_slice(snapshot.as_bytes());
    out
}

/// The format byte of an uncompressed UTF-8 text.
const FORMAT_TEXT: u8 = 0;

/// The snapshot's JSON text from its stored form.
pub fn decode(stored: &[u8]) -> Result<String, SnapshotError> {
    let (&format, data) = stored
        .split_first()
        .ok_or(SnapshotError("empty snapshot"))?;
    let bytes = match format {
        FORMAT_TEXT => data.to_vec(),
        FORMAT_DEFLATE_V1 => inflate_with_dictionary(data, DICTIONARY_V1)?,
        _ => return Err(SnapshotError("unknown snapshot format")),
    };
    String::from_utf8(bytes).map_err(|_| SnapshotError("snapshot is not UTF-8"))
}

fn inflate_with_dictionary(data: &[u8], dictionary: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    // The output buffer starts with the dictionary, so that back
    // references into it resolve; it is cut off at the end.
    let mut out = dictionary.to_vec();
    let mut written_to = out.len();
    out.resize(written_to + data.len() * 6 + 256, 0);
    let mut decompressor = DecompressorOxide::new();
    let mut input = data;
    loop {
        let (status, consumed, written) = decompress(
            &mut decompressor,
            input,
            &mut out,
            written_to,
            TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF,
        );
        input = &input[consumed..];
        written_to += written;
        match status {
            TINFLStatus::Done => {
                out.truncate(written_to);
                return Ok(out.split_off(dictionary.len()));
            }
            TINFLStatus::HasMoreOutput if out.len() < MAX_SNAPSHOT_BYTES => {
                let grown = (out.len() * 2).min(MAX_SNAPSHOT_BYTES);
                out.resize(grown, 0);
            }
            TINFLStatus::HasMoreOutput => return Err(SnapshotError("snapshot too large")),
            _ => return Err(SnapshotError("snapshot does not decompress")),
        }
    }
}

/// `json` without whitespace between tokens; strings (escapes included)
/// and numbers are kept byte for byte.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{
    "id": "100234",
    "number": "100234",
    "created_at": "2026-11-27T09:12:44+01:00",
    "currency": "DKK",
    "prices_include_vat": true,
    "customer": {"id": "5821", "name": "Mette Hansen", "email": "mette@example.dk",
                 "phone": "+45 20 12 34 56", "logged_in": true},
    "billing_address": {"name": "Mette Hansen", "street": "Nørregade 12, 2. tv",
                        "zip": "8000", "city": "Aarhus C", "country": "DK"},
    "payment_method": "card",
    "lines": [
      {"sku": "SKU-1", "name": "Wool socks, grey", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"},
      {"sku": "SKU-2", "name": "Beanie, navy", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"},
      {"sku": "SKU-3", "name": "Shoe laces, 3 pairs", "quantity": "3", "unit_price": "24.50", "vat_rate": "25"},
      {"sku": "SKU-4", "name": "Rain jacket, M", "quantity": 1, "unit_price": 399.000, "vat_rate": "25"},
      {"sku": "SKU-5", "name": "Gift card sleeve", "quantity": "2", "unit_price": "12.25", "vat_rate": "25"}
    ],
    "shipping": {"name": "GLS Pakkeshop", "price": "39.00"},
    "fees": [{"kind": "payment_fee", "label": "Card fee", "amount": "2.50"}],
    "discounts": [{"kind": "discount_code", "label": "WINTER50", "amount": "50.00"}],
    "total": "837.40"
  }"#;

    fn same_json(a: &str, b: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(a).ok()
            == serde_json::from_str::<serde_json::Value>(b).ok()
    }

    #[test]
    fn a_snapshot_comes_back_with_every_value_as_sent() {
        let stored = encode(ORDER);
        let back = decode(&stored).expect("decodes");
        assert!(same_json(&back, ORDER));
        // Amounts keep their digits: 399.000 is not 399.
        assert!(back.contains(r#""unit_price":399.000"#), "{back}");
        assert!(back.contains(r#""street":"Nørregade 12, 2. tv""#), "{back}");
    }

    #[test]
    fn a_five_line_order_is_stored_in_under_a_third_of_its_size() {
        let stored = encode(ORDER);
        assert!(
            stored.len() * 3 < ORDER.len(),
            "{} bytes stored for {}",
            stored.len(),
            ORDER.len()
        );
        // The dictionary is what gets it there: without it, deflate alone
        // needs about half as much again.
        let mut plain = CompressorOxide::new(0);
        plain.set_format_and_level(DataFormat::Raw, 9);
        let text = minify(ORDER);
        let mut out = vec![0; text.len() + 64];
        let (_, _, without_dictionary) =
            compress(&mut plain, text.as_bytes(), &mut out, TDEFLFlush::Finish);
        assert!(stored.len() + 100 < without_dictionary);
    }

    #[test]
    fn whitespace_inside_strings_and_escapes_survive_minifying() {
        let json = "{ \"a\" : \"x  y\\\" }\\n\" ,\n\t\"b\": [ 1 , -2.50e3 ] }";
        assert_eq!(minify(json), "{\"a\":\"x  y\\\" }\\n\",\"b\":[1,-2.50e3]}");
        assert!(same_json(&decode(&encode(json)).unwrap(), json));
    }

    #[test]
    fn large_and_empty_snapshots_round_trip() {
        let big: String = std::iter::once("[".to_owned())
            .chain((0..20_000).map(|i| format!("{{\"sku\":\"S{i}\",\"n\":{i}}},")))
            .chain(std::iter::once("0]".to_owned()))
            .collect();
        assert_eq!(decode(&encode(&big)).unwrap(), minify(&big));
        assert_eq!(decode(&encode("")).unwrap(), "");
    }

    #[test]
    fn damaged_or_unknown_stored_forms_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        let mut stored = encode(ORDER);
        stored.truncate(stored.len() / 2);
        assert!(decode(&stored).is_err());
        assert_eq!(decode(&stored_text("{}")).unwrap(), "{}");
    }
}
