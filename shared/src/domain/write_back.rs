//! Label write-back: the order's label written into the shop itself, where
//! the merchant works. Shopify gets an order tag and, on failure or
//! cancellation, the reason in a marked section of the order's note;
//! WooCommerce gets order meta and a private order note.
//!
//! Pure: the per-shop settings, what is written for which label, and the
//! note section. Queueing, retries and delivery states are the label
//! notifications' ([`crate::domain::notify::Channel::WriteBack`]); the HTTP
//! clients are `adapters::shop_admin`.
//!
//! Only outcomes are written (ok, failed, cancelled). `e-conomic-pending`
//! is the merchant's own tag asking for a re-send: the bridge never sets it
//! (a tag the bridge set would come back in Shopify's `orders/updated` and
//! could re-open an order that failed again in the meantime), and every
//! outcome it writes removes it, so no `orders/updated` the bridge causes
//! carries it.

use crate::domain::lifecycle::Label;
use crate::domain::secret::Secret;
use crate::domain::shop::{PlatformConfig, ShopConfig};
pub use crate::domain::write_back_config::{
    ShopifyWriteBack, WoocommerceWriteBack, WriteBackConfigError, DEFAULT_SHOPIFY_API_VERSION,
};

/// The tags the bridge manages on a Shopify order: the label names.
pub const LABEL_TAGS: [&str; 4] = [
    "e-conomic-pending",
    "e-conomic-ok",
    "e-conomic-failed",
    "e-conomic-cancelled",
];

/// WooCommerce order meta holding the label (shown under Custom Fields).
pub const WOO_LABEL_KEY: &str = "econ_bridge_label";
/// WooCommerce order meta holding the reason (empty when there is none).
pub const WOO_REASON_KEY: &str = "econ_bridge_reason";

/// The lines that fence the bridge's section of a Shopify order note.
pub const NOTE_START: &str = "[e-conomic bridge]";
pub const NOTE_END: &str = "[/e-conomic bridge]";

/// The longest reason written into a shop (the rest is cut at a character).
const REASON_LIMIT: usize = 1000;

/// Where one shop's labels are written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBackTarget {
    Shopify {
        /// `https://{shop_domain}` or the configured `admin_url`, no
        /// trailing slash.
        admin_url: String,
        api_version: String,
        access_token: Secret,
    },
    Woocommerce(WoocommerceWriteBack),
}

impl WriteBackTarget {
    /// The shop's write-back target, if its platform settings have one.
    pub fn of(shop: &ShopConfig) -> Option<WriteBackTarget> {
        match shop.platform.as_ref()? {
            PlatformConfig::Shopify(shopify) => {
                let admin = shopify.write_back.as_ref()?;
                let admin_url = admin
                    .admin_url
                    .clone()
                    .unwrap_or_else(|| format!("https://{}", shopify.shop_domain.trim()));
                Some(WriteBackTarget::Shopify {
                    admin_url: admin_url.trim_end_matches('/').to_owned(),
                    api_version: admin.api_version.clone(),
                    access_token: admin.access_token.clone(),
                })
            }
            PlatformConfig::Woocommerce(woo) => {
                woo.write_back.clone().map(WriteBackTarget::Woocommerce)
            }
        }
    }
}

/// Whether a change to `label` is written into the shop: outcomes only.
pub fn writes_back(label: Label) -> bool {
    matches!(label, Label::Ok | Label::Failed | Label::Cancelled)
}

/// What one write-back does to a Shopify order's tags: the managed tags the
/// order carries that are to go (the merchant's re-send tag among them),
/// then the label's tag added. Removal first, so no state in between
/// carries two labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagChange {
    pub remove: Vec<String>,
    pub add: Option<String>,
}

/// The tag change that leaves `current` (the order's tags) with exactly
/// the tag of `label` among the managed ones. Tags compare as Shopify does:
/// case-insensitive, trimmed.
pub fn tag_change(current: &[String], label: Label) -> TagChange {
    let wanted = label.as_str();
    let managed = |tag: &str| {
        LABEL_TAGS
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tag.trim()))
    };
    let remove = current
        .iter()
        .filter(|tag| managed(tag) && !tag.trim().eq_ignore_ascii_case(wanted))
        .map(|tag| tag.trim().to_owned())
        .collect();
    let present = current
        .iter()
        .any(|tag| tag.trim().eq_ignore_ascii_case(wanted));
    TagChange {
        remove,
        add: (!present).then(|| wanted.to_owned()),
    }
}

/// The reason as written into a shop: trimmed and cut at [`REASON_LIMIT`]
/// characters.
pub fn shop_reason(reason: &str) -> String {
    let reason = reason.trim();
    match reason.char_indices().nth(REASON_LIMIT) {
        Some((cut, _)) => format!("{}…", &reason[..cut]),
        None => reason.to_owned(),
    }
}

/// The order note with the bridge's section set to `reason` (or removed,
/// for `None`). The merchant's own text is kept as it is: the section is
/// the block from a [`NOTE_START`] line to a [`NOTE_END`] line, appended
/// after a blank line. A note whose markers are broken (a start without an
/// end) is left whole and a fresh section is appended. Returns `None` when
/// the note needs no change.
pub fn note_with_reason(current: Option<&str>, reason: Option<&str>) -> Option<String> {
    let current = current.unwrap_or_default();
    let merchant = merchant_part(current);
    let merchant = merchant.as_str();
    let updated = match reason {
        Some(reason) => {
            let section = format!("{NOTE_START}\n{}\n{NOTE_END}", shop_reason(reason));
            if merchant.is_empty() {
                section
            } else {
                format!("{merchant}\n\n{section}")
            }
        }
        None => merchant.to_owned(),
    };
    (updated != current).then_some(updated)
}

/// The note without the bridge's section (wherever the merchant's edits
/// left it; their text before and after it is kept).
fn merchant_part(note: &str) -> String {
    let Some(start) = line_start(note, NOTE_START) else {
        return note.trim_end().to_owned();
    };
    let Some(end_line) = line_start(&note[start..], NOTE_END) else {
        return note.trim_end().to_owned();
    };
    let after = start + end_line + NOTE_END.len();
    let before = note[..start].trim_end();
    let rest = note[after..].trim();
    match (before.is_empty(), rest.is_empty()) {
        (_, true) => before.to_owned(),
        (true, false) => rest.to_owned(),
        (false, false) => format!("{before}\n\n{rest}"),
    }
}

/// Byte offset of the first line of `text` that is exactly `marker`.
fn line_start(text: &str, marker: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == marker {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// The private WooCommerce order note written on failure or cancellation.
pub fn woocommerce_note(label: Label, reason: &str) -> String {
    let what = match label {
        Label::Cancelled => "e-conomic: order cancelled",
        _ => "e-conomic: the invoice could not be made",
    };
    format!("{what}: {}", shop_reason(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn only_outcomes_are_written_back() {
        assert!(writes_back(Label::Ok));
        assert!(writes_back(Label::Failed));
        assert!(writes_back(Label::Cancelled));
        assert!(!writes_back(Label::Pending));
        assert!(!writes_back(Label::Recorded));
    }

    #[test]
    fn the_tag_change_leaves_exactly_the_labels_tag_and_the_merchants_own() {
        let change = tag_change(
            &tags(&["vip", "e-conomic-failed", "E-conomic-pending"]),
            Label::Ok,
        );
        assert_eq!(
            change.remove,
            tags(&["e-conomic-failed", "E-conomic-pending"])
        );
        assert_eq!(change.add.as_deref(), Some("e-conomic-ok"));

        let change = tag_change(&tags(&["gift", "e-conomic-ok"]), Label::Ok);
        assert!(change.remove.is_empty());
        assert_eq!(change.add, None);

        let change = tag_change(&tags(&[]), Label::Failed);
        assert!(change.remove.is_empty());
        assert_eq!(change.add.as_deref(), Some("e-conomic-failed"));

        // A merchant tag that only starts like ours is theirs.
        let change = tag_change(&tags(&["e-conomic-okay", "e-conomic-ok"]), Label::Cancelled);
        assert_eq!(change.remove, tags(&["e-conomic-ok"]));
        assert_eq!(change.add.as_deref(), Some("e-conomic-cancelled"));
    }

    #[test]
    fn the_note_keeps_the_merchants_text_and_replaces_only_the_bridges_section() {
        // Empty note: the section alone.
        let first = note_with_reason(None, Some("product X is missing")).unwrap();
        assert_eq!(
            first,
            "[e-conomic bridge]\nproduct X is missing\n[/e-conomic bridge]"
        );
        // The merchant's text stays, the section follows a blank line.
        let noted =
            note_with_reason(Some("Gift wrap, please"), Some("VAT number invalid")).unwrap();
        assert_eq!(
            noted,
            "Gift wrap, please\n\n[e-conomic bridge]\nVAT number invalid\n[/e-conomic bridge]"
        );
        // A new reason replaces the old section, not the merchant's text.
        let replaced = note_with_reason(Some(&noted), Some("layout 9 missing")).unwrap();
        assert_eq!(
            replaced,
            "Gift wrap, please\n\n[e-conomic bridge]\nlayout 9 missing\n[/e-conomic bridge]"
        );
        // The same reason again: no write.
        assert_eq!(
            note_with_reason(Some(&replaced), Some("layout 9 missing")),
            None
        );
        // ok: the section goes, the merchant's text stays.
        assert_eq!(
            note_with_reason(Some(&replaced), None).as_deref(),
            Some("Gift wrap, please")
        );
        assert_eq!(note_with_reason(Some(&first), None).as_deref(), Some(""));
        assert_eq!(note_with_reason(Some("just mine"), None), None);
        assert_eq!(note_with_reason(None, None), None);
    }

    #[test]
    fn broken_markers_or_text_after_the_section_are_never_deleted() {
        let broken = "mine\n[e-conomic bridge]\nhalf edited by hand";
        let updated = note_with_reason(Some(broken), Some("reason")).unwrap();
        assert!(updated.starts_with(broken), "{updated}");
        assert!(updated.ends_with("[e-conomic bridge]\nreason\n[/e-conomic bridge]"));
        assert_eq!(note_with_reason(Some(broken), None), None);

        // Text the merchant wrote after the section stays; the section
        // moves to the end, once.
        let after = "mine\n\n[e-conomic bridge]\nold\n[/e-conomic bridge]\nP.S. call first";
        let updated = note_with_reason(Some(after), Some("new")).unwrap();
        assert_eq!(
            updated,
            "mine\n\nP.S. call first\n\n[e-conomic bridge]\nnew\n[/e-conomic bridge]"
        );
        assert_eq!(note_with_reason(Some(&updated), Some("new")), None);
    }

    #[test]
    fn long_reasons_are_cut_at_a_character() {
        let long = "æ".repeat(REASON_LIMIT + 10);
        let cut = shop_reason(&long);
        assert_eq!(cut.chars().count(), REASON_LIMIT + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shop_reason("  short  "), "short");
        assert_eq!(
            woocommerce_note(Label::Failed, "product X is missing"),
            "e-conomic: the invoice could not be made: product X is missing"
        );
    }
}
