//! Shopify and WooCommerce orders in the platforms' own format → the
//! order contract, field by field, and on to the invoice plan. The
//! fixtures are under `tests/fixtures/{shopify,woocommerce}/`: the
//! platforms' documentation examples as published (`docs-*`) and Danish
//! shops' typical orders written from the field references. The expected
//! amounts are worked out by hand in the comments.

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::{DiscountKind, FeeKind, Order};
use bridge::domain::platform::{shopify, woocommerce, B2bFields, TranslateError};
use bridge::domain::shop::{
    shopify_topics, woocommerce_statuses, ShopifyConfig, WoocommerceConfig,
};
use rust_decimal::Decimal;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fixture(platform: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{platform}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn shopify_config() -> ShopifyConfig {
    ShopifyConfig {
        shop_domain: "butik.myshopify.com".into(),
        secrets: vec![],
        topics: shopify_topics(),
        b2b: B2bFields::shopify_defaults(),
        write_back: None,
    }
}

fn woo_config() -> WoocommerceConfig {
    WoocommerceConfig {
        secrets: vec![],
        statuses: woocommerce_statuses(),
        b2b: B2bFields::woocommerce_defaults(),
        write_back: None,
    }
}

fn shopify_order(name: &str) -> Order {
    shopify::translate_body(&fixture("shopify", name), &shopify_config())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn woo_order(name: &str) -> Order {
    woocommerce::translate_body(&fixture("woocommerce", name), &woo_config())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (sku, name, quantity, unit price, VAT rate) of every line.
fn lines(order: &Order) -> Vec<(Option<&str>, &str, Decimal, Decimal, Decimal)> {
    order
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_deref(),
                l.name.as_str(),
                l.quantity,
                l.unit_price,
                l.vat_rate,
            )
        })
        .collect()
}

/// (kind, label, amount, rate) of every discount.
fn discounts(order: &Order) -> Vec<(DiscountKind, &str, Decimal, Option<Decimal>)> {
    order
        .discounts
        .iter()
        .map(|x| (x.kind, x.label.as_str(), x.amount, x.vat_rate))
        .collect()
}

/// (name, price, rate) of the shipping.
fn shipping(order: &Order) -> Option<(&str, Decimal, Option<Decimal>)> {
    order
        .shipping
        .as_ref()
        .map(|s| (s.name.as_str(), s.price, s.vat_rate))
}

/// The invoice plan's gross equals the order's total to the øre.
fn assert_invoice_total(order: &Order) {
    let plan = map_order(order, &MappingConfig::default())
        .unwrap_or_else(|e| panic!("order {} does not map: {e}", order.id));
    assert_eq!(plan.expected_gross_total, order.total, "order {}", order.id);
}

fn not_invoiceable(result: Result<Order, TranslateError>) -> (String, String) {
    match result {
        Err(TranslateError::NotInvoiceable(e)) => (e.field, e.message),
        other => panic!("expected not invoiceable, got {other:?}"),
    }
}

#[test]
fn shopify_documentation_test_notification() {
    let order = shopify_order("docs-test-notification.json");
    assert_eq!(order.id, "820982911946154508");
    assert_eq!(order.number, "1234");
    assert_eq!(order.currency, "USD");
    assert!(!order.prices_include_vat);
    assert_eq!(order.created_at.unix_timestamp(), 1_559_670_786);
    assert_eq!(
        lines(&order),
        vec![
            (
                Some("IPOD2008PINK"),
                "IPod Nano - 8GB",
                d("1"),
                d("199.00"),
                d("0")
            ),
            (
                Some("IPOD2008PINK"),
                "IPod Nano - 8GB",
                d("1"),
                d("199.00"),
                d("0")
            ),
        ]
    );
    // The manual discount on the second line, no tax lines: 0 %.
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::Promotional,
            "Discount",
            d("5.00"),
            Some(d("0"))
        )]
    );
    assert_eq!(
        shipping(&order),
        Some(("Generic Shipping", d("10.00"), Some(d("0"))))
    );
    // 199 + 199 − 5 + 10
    assert_eq!(order.total, d("403.00"));
    assert_eq!(order.customer.id.as_deref(), Some("115310627314723954"));
    assert_eq!(order.customer.name, "John Smith");
    assert_eq!(order.customer.email.as_deref(), Some("jon@doe.ca"));
    assert_eq!(order.customer.company_name.as_deref(), Some("My Company"));
    assert_eq!(order.billing_address.country, "US");
    assert_eq!(order.billing_address.street, "123 Billing Street");
    assert_eq!(order.billing_address.name.as_deref(), Some("Bob Biller"));
    let delivery = order.delivery_address.as_ref().unwrap();
    assert_eq!(
        (delivery.zip.as_str(), delivery.city.as_str()),
        ("40003", "Shippington")
    );
    assert_eq!(order.payment_method.as_str(), "visa");
    assert!(!order.is_business());
}

#[test]
fn shopify_danish_discount_code_with_vat_included() {
    let order = shopify_order("dk-discount-code.json");
    assert!(order.prices_include_vat);
    assert_eq!(order.currency, "DKK");
    assert_eq!(order.number, "1001");
    assert_eq!(
        lines(&order),
        vec![
            (
                Some("SOCK-GRY-39"),
                "Uldsokker - Grå / 39-42",
                d("2"),
                d("99.95"),
                d("25")
            ),
            (Some("HAT-NVY"), "Hue - Navy", d("1"), d("149.00"), d("25")),
        ]
    );
    // 19.99 + 14.90 off, one code, one rate: one discount.
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::DiscountCode,
            "VELKOMMEN10",
            d("34.89"),
            Some(d("25"))
        )]
    );
    assert_eq!(
        shipping(&order),
        Some(("GLS Pakkeshop", d("39.00"), Some(d("25"))))
    );
    assert!(order.fees.is_empty());
    // 2 × 99.95 + 149.00 − 34.89 + 39.00
    assert_eq!(order.total, d("353.01"));
    assert_eq!(order.customer.phone.as_deref(), Some("+4520123456"));
    assert_eq!(order.payment_method.as_str(), "shopify_payments");
    assert_invoice_total(&order);
}

#[test]
fn shopify_five_lines_with_a_code_on_one_line() {
    // The ingest benchmark's Shopify order.
    let order = shopify_order("dk-five-lines.json");
    assert_eq!(
        lines(&order),
        vec![
            (
                Some("SKU-1"),
                "Uldsokker - Grå / 39-42",
                d("2"),
                d("99.95"),
                d("25")
            ),
            (Some("SKU-2"), "Hue - Navy", d("1"), d("149.00"), d("25")),
            (
                Some("SKU-3"),
                "Snørebånd, 3 par",
                d("3"),
                d("24.50"),
                d("25")
            ),
            (Some("SKU-4"), "Regnjakke - M", d("1"), d("399.00"), d("25")),
            (Some("SKU-5"), "Gavekortomslag", d("2"), d("12.25"), d("25")),
        ]
    );
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::DiscountCode,
            "WINTER50",
            d("50.00"),
            Some(d("25"))
        )]
    );
    assert_eq!(
        shipping(&order),
        Some(("GLS Pakkeshop", d("39.00"), Some(d("25"))))
    );
    // 199.90 + 149.00 + 73.50 + 399.00 + 24.50 − 50.00 + 39.00
    assert_eq!(order.total, d("834.90"));
    assert_invoice_total(&order);
}

#[test]
fn shopify_free_shipping_code_and_gift_card_as_payment() {
    let order = shopify_order("dk-free-shipping-gift-card.json");
    assert_eq!(
        lines(&order),
        vec![(
            Some("RAIN-M"),
            "Regnjakke - M",
            d("1"),
            d("499.00"),
            d("25")
        )]
    );
    // The shipping keeps its price; the code takes it off at the shipping's rate.
    assert_eq!(
        shipping(&order),
        Some(("PostNord", d("49.00"), Some(d("25"))))
    );
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::DiscountCode,
            "FRAGTFRI",
            d("49.00"),
            Some(d("25"))
        )]
    );
    // The gift card paid part: a payment, not a discount; the invoice keeps
    // the full amount and names the other gateway.
    assert_eq!(order.total, d("499.00"));
    assert_eq!(order.payment_method.as_str(), "shopify_payments");
    assert_invoice_total(&order);
}

#[test]
fn shopify_b2b_with_ean_and_cvr_note_attributes() {
    let order = shopify_order("dk-b2b-ean-cvr.json");
    assert!(!order.prices_include_vat);
    assert_eq!(
        lines(&order),
        vec![(Some("CHAIR-1"), "Kontorstol", d("10"), d("80.00"), d("25"))]
    );
    assert!(order.shipping.is_none());
    // 10 × 80.00 + 200.00 tax
    assert_eq!(order.total, d("1000.00"));
    assert_eq!(order.customer.ean.as_deref(), Some("5790000123456"));
    assert_eq!(order.customer.cvr.as_deref(), Some("29189846"));
    assert_eq!(
        order.customer.company_name.as_deref(),
        Some("Københavns Kommune")
    );
    assert_eq!(order.payment_method.as_str(), "manual");
    assert!(order.is_business());
    assert_invoice_total(&order);
}

#[test]
fn shopify_b2b_cvr_from_the_company_field_and_an_automatic_discount() {
    let order = shopify_order("dk-b2b-company-field.json");
    assert_eq!(order.customer.cvr.as_deref(), Some("12345678"));
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::Promotional,
            "Mængderabat",
            d("100.00"),
            Some(d("25"))
        )]
    );
    assert_eq!(order.total, d("900.00"));
    assert_invoice_total(&order);
}

#[test]
fn shopify_eu_oss_order_keeps_the_german_rate() {
    let order = shopify_order("eu-oss-germany.json");
    assert_eq!(
        lines(&order),
        vec![(Some("POT-1"), "Kaffekande", d("1"), d("119.00"), d("19"))]
    );
    assert_eq!(shipping(&order), Some(("DHL", d("59.50"), Some(d("19")))));
    assert_eq!(order.destination().country, "DE");
    assert_eq!(order.total, d("178.50"));
}

#[test]
fn shopify_export_without_vat() {
    let order = shopify_order("export-norway.json");
    assert_eq!(
        lines(&order),
        vec![(
            Some("KNIT-L"),
            "Strikketrøje - L",
            d("1"),
            d("400.00"),
            d("0")
        )]
    );
    assert_eq!(shipping(&order), Some(("Bring", d("150.00"), Some(d("0")))));
    assert_eq!(order.destination().country, "NO");
    assert_eq!(order.total, d("550.00"));
    assert_invoice_total(&order);
}

#[test]
fn shopify_orders_that_cannot_be_invoiced_name_the_field() {
    let (field, message) = not_invoiceable(shopify::translate_body(
        &fixture("shopify", "not-invoiceable-duties.json"),
        &shopify_config(),
    ));
    assert_eq!(field, "total_price");
    assert!(message.contains("(100.00)"), "{message}");
    let (field, message) = not_invoiceable(shopify::translate_body(
        &fixture("shopify", "not-invoiceable-two-taxes.json"),
        &shopify_config(),
    ));
    assert_eq!(field, "line_items[0].tax_lines");
    assert!(message.contains("two taxes"), "{message}");
}

#[test]
fn woocommerce_documentation_example_order() {
    let order = woo_order("docs-create-order-response.json");
    assert_eq!(order.id, "727");
    assert_eq!(order.number, "727");
    assert_eq!(order.currency, "USD");
    assert!(!order.prices_include_vat);
    assert_eq!(order.created_at.unix_timestamp(), 1_490_210_882);
    // WooCommerce 3.0 sends no rate_percent: 0.45 on 6.00 and 0.90 on
    // 12.00 show 7.5 %, confirmed on each line.
    assert_eq!(
        lines(&order),
        vec![
            (None, "Woo Single #1", d("2"), d("3"), d("7.5")),
            (
                Some("Bar3"),
                "Ship Your Idea &ndash; Color: Black, Size: M Test",
                d("1"),
                d("12"),
                d("7.5")
            ),
        ]
    );
    assert!(order.discounts.is_empty());
    assert_eq!(
        shipping(&order),
        Some(("Flat Rate", d("10.00"), Some(d("0"))))
    );
    // 6.00 + 0.45 + 12.00 + 0.90 + 10.00
    assert_eq!(order.total, d("29.35"));
    assert_eq!(order.customer.id, None);
    assert_eq!(order.customer.name, "John Doe");
    assert_eq!(
        order.customer.email.as_deref(),
        Some("john.doe@example.com")
    );
    assert_eq!(order.billing_address.country, "US");
    assert_eq!(order.payment_method.as_str(), "bacs");
}

#[test]
fn woocommerce_coupon_with_vat_included() {
    let order = woo_order("dk-coupon-incl-vat.json");
    assert!(order.prices_include_vat);
    // (159.92 + 39.98) / 2
    assert_eq!(
        lines(&order),
        vec![(
            Some("SOCK-GRY-39"),
            "Uldsokker - Grå, 39-42",
            d("2"),
            d("99.95"),
            d("25")
        )]
    );
    // (159.92 + 39.98) − (143.93 + 35.98)
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::DiscountCode,
            "velkommen10",
            d("19.99"),
            Some(d("25"))
        )]
    );
    // 31.20 + 7.80
    assert_eq!(
        shipping(&order),
        Some(("GLS Pakkeshop", d("39.00"), Some(d("25"))))
    );
    assert_eq!(order.total, d("218.91"));
    assert_eq!(order.customer.id.as_deref(), Some("12"));
    assert_eq!(order.payment_method.as_str(), "quickpay");
    assert_invoice_total(&order);
}

#[test]
fn woocommerce_b2b_with_ean_and_cvr_meta_and_a_fee() {
    let order = woo_order("dk-b2b-ean-meta.json");
    assert!(!order.prices_include_vat);
    assert_eq!(
        lines(&order),
        vec![(Some("CHAIR-1"), "Kontorstol", d("3"), d("100"), d("25"))]
    );
    assert_eq!(
        shipping(&order),
        Some(("Gratis fragt", d("0.00"), Some(d("0"))))
    );
    assert_eq!(order.fees.len(), 1);
    assert_eq!(order.fees[0].kind, FeeKind::Other);
    assert_eq!(order.fees[0].label, "Gebyr for EAN-faktura");
    assert_eq!(order.fees[0].amount, d("20.00"));
    assert_eq!(order.fees[0].vat_rate, Some(d("25")));
    assert_eq!(order.customer.ean.as_deref(), Some("5790000123456"));
    assert_eq!(order.customer.cvr.as_deref(), Some("29189846"));
    assert_eq!(
        order.customer.company_name.as_deref(),
        Some("Københavns Kommune")
    );
    assert_eq!(order.total, d("400.00"));
    assert_invoice_total(&order);
}

#[test]
fn woocommerce_gift_card_as_a_negative_fee_is_a_discount() {
    let order = woo_order("dk-gift-card-negative-fee.json");
    // 399.20 + 99.80
    assert_eq!(
        lines(&order),
        vec![(Some("RAIN-M"), "Regnjakke - M", d("1"), d("499"), d("25"))]
    );
    assert!(order.fees.is_empty());
    // −80.00 − 20.00
    assert_eq!(
        discounts(&order),
        vec![(
            DiscountKind::Promotional,
            "Gavekort",
            d("100.00"),
            Some(d("25"))
        )]
    );
    assert_eq!(order.total, d("399.00"));
    assert_invoice_total(&order);
}

#[test]
fn woocommerce_eu_vat_number_without_vat() {
    let order = woo_order("eu-vat-number-sweden.json");
    assert_eq!(
        lines(&order),
        vec![(Some("LAMP-1"), "Arbejdslampe", d("2"), d("100"), d("0"))]
    );
    assert_eq!(
        order.customer.eu_vat_number.as_deref(),
        Some("SE556677889901")
    );
    assert_eq!(order.customer.cvr, None);
    assert_eq!(order.destination().country, "SE");
    assert_eq!(order.total, d("300.00"));
}

#[test]
fn woocommerce_orders_that_cannot_be_invoiced_name_the_field() {
    let (field, message) = not_invoiceable(woocommerce::translate_body(
        &fixture("woocommerce", "not-invoiceable-unit-price.json"),
        &woo_config(),
    ));
    assert_eq!(field, "line_items[0].subtotal");
    assert!(message.contains("100.00 for 3 units"), "{message}");
}

#[test]
fn fixture_counts() {
    let count = |platform: &str| {
        std::fs::read_dir(format!(
            "{}/tests/fixtures/{platform}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .count()
    };
    // Each fixture has its own test above; a new file needs one too.
    assert_eq!(count("shopify"), 10);
    assert_eq!(count("woocommerce"), 6);
}
