//! Refund → e-conomic credit note. Pure: no I/O, no clock.
//!
//! A credit note is a draft invoice with negative quantities to the same
//! customer, in the same VAT zone and at the same rates as the invoice it
//! credits. Those come from the [`CreditBasis`] the bridge stored when it
//! pushed the invoice, never from today's configuration. What earlier
//! refunds of the order took is in the [`CreditLedger`]; a refund larger
//! than what remains uncredited (of a line, the shipping, a fee, a rate or
//! the invoice) is refused with the reason.
//!
//! Each refunded part keeps its rate: a line at its order line's rate, the
//! shipping and fees at theirs, and an amount not tied to a line (goodwill)
//! is spread over the invoice's rates in proportion to what remains of
//! each. Every part is priced as `lines::price_parts` prices an order line
//! (net at two decimals, carrying the VAT the amount contains), and what
//! per-line rounding leaves open is closed per rate with
//! `money::rounding_nets`, so the credit note's gross at every rate is the
//! refunded amount at that rate, to the øre.

use super::lines::{price_parts, LineOrigin};
use super::{clip, DebtorPlan, DebtorUpdate, InvoicePlan, SkuProduct, MAX_REFERENCE_LEN};
use crate::domain::economic_model::{
    CustomerRef, DraftDocument, DraftInvoice, DraftLine, Notes, ProductRef, References,
};
use crate::domain::money::{self, round2, TotalsLine, CENT};
use crate::domain::order::refund::Refund;
use crate::domain::order::{FeeKind, Order};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The shop's `credit_notes` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditNoteConfig {
    /// Turn `order.refunded` events into credit notes. Needs the invoice's
    /// basis, which is stored with every invoice pushed while this is on.
    /// Default `false` (refund events are then acknowledged and ignored).
    pub enabled: bool,
    /// Book each credit note. Default `false` (a draft).
    pub book: bool,
}

/// What a credit note needs of the invoice it credits, stored when the
/// invoice was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditBasis {
    pub order_id: String,
    pub order_number: String,
    /// The booked invoice's number, else the draft's.
    pub invoice_number: u32,
    pub booked: bool,
    pub customer_number: u32,
    /// The order's lines, index for index with `LineOrigin::Item`.
    pub items: Vec<BasisItem>,
    /// The order's fees' kinds, index for index with `LineOrigin::Fee`.
    pub fees: Vec<FeeKind>,
    /// The invoice as planned: header, lines, rates and origins.
    pub plan: InvoicePlan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasisItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub quantity: Decimal,
}

impl CreditBasis {
    /// The basis of `order`'s invoice as `plan` made it, pushed as draft
    /// `draft` (or booked as `booked`) to `customer_number`; `None` when
    /// no invoice number is known.
    pub fn new(
        order: &Order,
        plan: &InvoicePlan,
        customer_number: u32,
        draft: Option<u32>,
        booked: Option<u32>,
    ) -> Option<CreditBasis> {
        let invoice_number = booked.or(draft)?;
        Some(CreditBasis {
            order_id: order.id.clone(),
            order_number: order.number.clone(),
            invoice_number,
            booked: booked.is_some(),
            customer_number,
            items: order
                .lines
                .iter()
                .map(|l| BasisItem {
                    sku: l.sku.as_deref().map(str::trim).map(str::to_owned),
                    quantity: l.quantity,
                })
                .collect(),
            fees: order.fees.iter().map(|f| f.kind).collect(),
            plan: plan.clone(),
        })
    }

    /// The invoice's parts: each origin's draft lines, rate, and gross.
    fn parts(&self) -> Vec<InvoicedPart> {
        let mut parts: Vec<InvoicedPart> = Vec::new();
        let lines = &self.plan.draft.lines;
        for (index, line) in lines.iter().enumerate() {
            let origin = self
                .plan
                .line_origins
                .get(index)
                .copied()
                .unwrap_or(LineOrigin::Rounding);
            let rate = self
                .plan
                .line_vat_rates
                .get(index)
                .copied()
                .unwrap_or_default();
            let net = money::line_net(line.quantity, line.unit_net_price, line.discount_percentage);
            let gross = net + money::line_vat(net, rate);
            match parts.iter_mut().find(|p| p.origin == origin) {
                Some(part) => part.gross += gross,
                None => parts.push(InvoicedPart {
                    origin,
                    first_line: index,
                    rate,
                    gross,
                }),
            }
        }
        parts
    }

    /// Gross per rate of the whole invoice, in order of first appearance.
    fn gross_per_rate(&self) -> Vec<(Decimal, Decimal)> {
        let mut per_rate: Vec<(Decimal, Decimal)> = Vec::new();
        for part in self.parts() {
            add_at(&mut per_rate, part.rate, part.gross);
        }
        per_rate
    }
}

struct InvoicedPart {
    origin: LineOrigin,
    /// Index of its first draft line (its product and text).
    first_line: usize,
    rate: Decimal,
    gross: Decimal,
}

/// What the refunds of one order have credited, in the order they were
/// reserved. A refund's entry is written before its credit note is made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLedger {
    pub entries: Vec<CreditEntry>,
}

impl CreditLedger {
    /// The entries reserved before `refund_id` (all, if it has none): what
    /// its credit note is planned against, the same on every attempt.
    pub fn before(&self, refund_id: &str) -> &[CreditEntry] {
        let end = self
            .entries
            .iter()
            .position(|e| e.refund_id == refund_id)
            .unwrap_or(self.entries.len());
        &self.entries[..end]
    }

    pub fn contains(&self, refund_id: &str) -> bool {
        self.entries.iter().any(|e| e.refund_id == refund_id)
    }
}

/// One refund's share of the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditEntry {
    pub refund_id: String,
    /// `(order line index, quantity, gross)`.
    pub items: Vec<(usize, Decimal, Decimal)>,
    pub shipping: Decimal,
    /// `(fee index, gross)`.
    pub fees: Vec<(usize, Decimal)>,
    /// `(rate, gross)`: the credit note's gross at each rate.
    pub per_rate: Vec<(Decimal, Decimal)>,
    pub total: Decimal,
    /// The credit note's reference.
    pub reference: String,
}

/// A planned credit note and what it takes of the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNote {
    pub plan: InvoicePlan,
    pub entry: CreditEntry,
}

/// Why a refund cannot become a credit note. The message names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditNoteError {
    #[error(
        "refund {refund_id} cannot become a credit note: order {order} was sent to e-conomic as \
         order draft {order_draft} (`mapping.document: order_draft`), not as an invoice, so there \
         is no invoice to credit; once the order is invoiced in e-conomic, credit the refund there"
    )]
    NoInvoice {
        refund_id: String,
        order: String,
        order_draft: u32,
    },
    #[error(
        "refund {refund_id} is in {refund} but order {order} was invoiced in {invoice}: a credit \
         note is in the invoice's currency"
    )]
    CurrencyMismatch {
        refund_id: String,
        order: String,
        refund: String,
        invoice: String,
    },
    #[error("refund {refund_id} names SKU `{sku}`, which no line of order {order} has")]
    UnknownSku {
        refund_id: String,
        order: String,
        sku: String,
    },
    #[error(
        "refund {refund_id} is larger than what remains uncredited of {what} on invoice \
         {invoice}: it asks for {asked}, {remaining} remains; check the refund in the shop"
    )]
    ExceedsRemaining {
        refund_id: String,
        invoice: u32,
        what: String,
        asked: Decimal,
        remaining: Decimal,
    },
    #[error("refund {refund_id} refunds {what}, which invoice {invoice} does not have")]
    NotInvoiced {
        refund_id: String,
        invoice: u32,
        what: String,
    },
    #[error(
        "the credit note cannot close a difference of {gap} at {rate} % VAT: set \
         `rounding.vat_free` and credit this refund by hand"
    )]
    RoundingUnreachable { gap: Decimal, rate: Decimal },
    #[error("credit note reference `{reference}` is longer than 250 characters")]
    ReferenceTooLong { reference: String },
    #[error("internal error: the credit note totals {planned} but the refund is {refund}")]
    TotalsNotReconciled { planned: Decimal, refund: Decimal },
}

/// `Credit note {number}-{refund_id}`: the credit note's `references.other`.
pub fn credit_note_reference(order_number: &str, refund_id: &str) -> String {
    format!("Credit note {order_number}-{refund_id}")
}

/// One refunded part to price: `gross` at `rate` on `line`'s product.
struct Target {
    line: usize,
    description: String,
    quantity: Decimal,
    gross: Decimal,
    rate: Decimal,
}

/// Plans the credit note for `refund` against `basis`, after the refunds in
/// `prior` (the ledger's entries before this refund), dated `date`.
pub fn plan_credit_note(
    basis: &CreditBasis,
    refund: &Refund,
    prior: &[CreditEntry],
    config: &CreditNoteConfig,
    date: time::Date,
) -> Result<CreditNote, CreditNoteError> {
    let invoice = basis.invoice_number;
    let original = &basis.plan;
    if original.document == DraftDocument::OrderDraft {
        return Err(CreditNoteError::NoInvoice {
            refund_id: refund.id.clone(),
            order: basis.order_id.clone(),
            order_draft: invoice,
        });
    }
    if refund.currency != original.draft.currency {
        return Err(CreditNoteError::CurrencyMismatch {
            refund_id: refund.id.clone(),
            order: basis.order_id.clone(),
            refund: refund.currency.clone(),
            invoice: original.draft.currency.clone(),
        });
    }
    let exceeds =
        |what: String, asked: Decimal, remaining: Decimal| CreditNoteError::ExceedsRemaining {
            refund_id: refund.id.clone(),
            invoice,
            what,
            asked,
            remaining,
        };
    let not_invoiced = |what: String| CreditNoteError::NotInvoiced {
        refund_id: refund.id.clone(),
        invoice,
        what,
    };
    let parts = basis.parts();
    let description_of =
        |part: &InvoicedPart| original.draft.lines[part.first_line].description.clone();
    let mut entry = CreditEntry {
        refund_id: refund.id.clone(),
        items: Vec::new(),
        shipping: Decimal::ZERO,
        fees: Vec::new(),
        per_rate: Vec::new(),
        total: refund.total,
        reference: credit_note_reference(&basis.order_number, &refund.id),
    };
    let mut targets: Vec<Target> = Vec::new();

    // Lines: the first order line with that SKU and enough units left.
    for line in &refund.lines {
        let sku = line.sku.trim();
        let candidates: Vec<usize> = (0..basis.items.len())
            .filter(|&i| basis.items[i].sku.as_deref() == Some(sku))
            .collect();
        if candidates.is_empty() {
            return Err(CreditNoteError::UnknownSku {
                refund_id: refund.id.clone(),
                order: basis.order_id.clone(),
                sku: sku.to_owned(),
            });
        }
        let credited = |i: usize, entries: &[(usize, Decimal, Decimal)]| {
            entries
                .iter()
                .filter(|e| e.0 == i)
                .fold((Decimal::ZERO, Decimal::ZERO), |(q, g), e| {
                    (q + e.1, g + e.2)
                })
        };
        let left = |i: usize| {
            let (q0, g0) = prior
                .iter()
                .map(|p| credited(i, &p.items))
                .fold((Decimal::ZERO, Decimal::ZERO), |a, b| {
                    (a.0 + b.0, a.1 + b.1)
                });
            let (q1, g1) = credited(i, &entry.items);
            let invoiced = parts
                .iter()
                .find(|p| p.origin == LineOrigin::Item { line: i })
                .map_or(Decimal::ZERO, |p| p.gross);
            (basis.items[i].quantity - q0 - q1, invoiced - g0 - g1)
        };
        let Some(&index) = candidates.iter().find(|&&i| left(i).0 >= line.quantity) else {
            let remaining: Decimal = candidates.iter().map(|&i| left(i).0).sum();
            return Err(exceeds(
                format!("SKU `{sku}` (units)"),
                line.quantity,
                remaining,
            ));
        };
        let (_, gross_left) = left(index);
        if line.amount > gross_left {
            return Err(exceeds(format!("SKU `{sku}`"), line.amount, gross_left));
        }
        let part = parts
            .iter()
            .find(|p| p.origin == LineOrigin::Item { line: index })
            .ok_or_else(|| not_invoiced(format!("SKU `{sku}`")))?;
        entry.items.push((index, line.quantity, line.amount));
        targets.push(Target {
            line: part.first_line,
            description: description_of(part),
            quantity: line.quantity,
            gross: line.amount,
            rate: part.rate,
        });
    }

    if let Some(shipping) = refund.shipping.filter(|s| !s.is_zero()) {
        let part = parts
            .iter()
            .find(|p| p.origin == LineOrigin::Shipping)
            .ok_or_else(|| not_invoiced("shipping".to_owned()))?;
        let left = part.gross - prior.iter().map(|p| p.shipping).sum::<Decimal>();
        if shipping > left {
            return Err(exceeds("the shipping".to_owned(), shipping, left));
        }
        entry.shipping = shipping;
        targets.push(Target {
            line: part.first_line,
            description: description_of(part),
            quantity: Decimal::ONE,
            gross: shipping,
            rate: part.rate,
        });
    }

    for fee in refund.fees.iter().filter(|f| !f.amount.is_zero()) {
        let left = |f: usize| {
            let invoiced = parts
                .iter()
                .find(|p| p.origin == LineOrigin::Fee { fee: f })
                .map_or(Decimal::ZERO, |p| p.gross);
            let taken: Decimal = prior
                .iter()
                .flat_map(|p| p.fees.iter())
                .chain(entry.fees.iter())
                .filter(|e| e.0 == f)
                .map(|e| e.1)
                .sum();
            invoiced - taken
        };
        let of_kind: Vec<usize> = (0..basis.fees.len())
            .filter(|&f| basis.fees[f] == fee.kind)
            .filter(|&f| parts.iter().any(|p| p.origin == LineOrigin::Fee { fee: f }))
            .collect();
        let what = format!("the {} fee", fee_name(fee.kind));
        if of_kind.is_empty() {
            return Err(not_invoiced(what));
        }
        let Some(&index) = of_kind.iter().find(|&&f| left(f) >= fee.amount) else {
            let remaining = of_kind.iter().map(|&f| left(f)).max().unwrap_or_default();
            return Err(exceeds(what, fee.amount, remaining));
        };
        let part = parts
            .iter()
            .find(|p| p.origin == LineOrigin::Fee { fee: index })
            .ok_or_else(|| not_invoiced(what.clone()))?;
        entry.fees.push((index, fee.amount));
        targets.push(Target {
            line: part.first_line,
            description: description_of(part),
            quantity: Decimal::ONE,
            gross: fee.amount,
            rate: part.rate,
        });
    }

    // What remains of each rate before the amount not tied to a line.
    let mut remaining = basis.gross_per_rate();
    for taken in prior.iter().flat_map(|p| p.per_rate.iter()) {
        add_at(&mut remaining, taken.0, -taken.1);
    }
    for target in &targets {
        add_at(&mut remaining, target.rate, -target.gross);
    }
    for &(rate, left) in &remaining {
        // A rate may start below zero (a VAT-free rounding line of -0.01):
        // only a refund that takes from a rate can overdraw it.
        let takes = targets.iter().any(|t| t.rate == rate && !t.gross.is_zero());
        if takes && left.is_sign_negative() && !left.is_zero() {
            let asked: Decimal = targets
                .iter()
                .filter(|t| t.rate == rate)
                .map(|t| t.gross)
                .sum();
            return Err(exceeds(
                format!("the amounts at {} % VAT", rate.normalize()),
                asked,
                left + asked,
            ));
        }
    }

    if let Some(amount) = refund.amount.filter(|a| !a.is_zero()) {
        let shares = spread(amount, &remaining).ok_or_else(|| {
            exceeds(
                "the invoice".to_owned(),
                amount,
                remaining.iter().map(|r| r.1).sum(),
            )
        })?;
        let text = match refund
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(reason) => format!("Refund: {reason}"),
            None => "Refund".to_owned(),
        };
        for (rate, share) in shares {
            let line = goodwill_line(basis, &parts, rate)
                .ok_or_else(|| not_invoiced(format!("a line at {} % VAT", rate.normalize())))?;
            targets.push(Target {
                line,
                description: text.clone(),
                quantity: Decimal::ONE,
                gross: share,
                rate,
            });
        }
    }

    // Price the targets: negative quantities, each part's net carrying
    // the VAT its amount contains.
    let mut out = CreditLines {
        original,
        lines: Vec::new(),
        totals_lines: Vec::new(),
        sku_products: Vec::new(),
    };
    for target in &targets {
        add_at(&mut entry.per_rate, target.rate, target.gross);
        let (quantity, description) = if target.quantity.normalize().scale() <= 2 {
            (target.quantity, target.description.clone())
        } else {
            (
                Decimal::ONE,
                format!("{} ({})", target.description, target.quantity.normalize()),
            )
        };
        let net = money::round2_div(target.gross, money::vat_factor(target.rate));
        for (part_quantity, unit) in price_parts(quantity, target.gross, net, target.rate) {
            out.push(target.line, &description, -part_quantity, unit, target.rate);
        }
    }
    // Close what per-line rounding left open, rate by rate, on a line of
    // that rate's product.
    for &(rate, gross) in &entry.per_rate.clone() {
        let reached: Decimal = out
            .totals_lines
            .iter()
            .filter(|l| l.3 == rate)
            .map(|&(q, u, d, r)| {
                let net = money::line_net(q, u, d);
                net + money::line_vat(net, r)
            })
            .sum();
        let gap = -gross - reached;
        if gap.is_zero() {
            continue;
        }
        let nets = money::rounding_nets(gap, rate)
            .ok_or(CreditNoteError::RoundingUnreachable { gap, rate })?;
        let source = targets
            .iter()
            .filter(|t| t.rate == rate)
            .max_by_key(|t| t.gross)
            .map_or(0, |t| t.line);
        for net in nets {
            out.push(source, "Rounding", Decimal::ONE, net, rate);
        }
    }

    let CreditLines {
        lines,
        totals_lines,
        sku_products,
        ..
    } = out;
    let totals = money::draft_totals(&totals_lines);
    if totals.gross != -refund.total {
        return Err(CreditNoteError::TotalsNotReconciled {
            planned: totals.gross,
            refund: -refund.total,
        });
    }
    let reference = entry.reference.clone();
    if reference.chars().count() > MAX_REFERENCE_LEN {
        return Err(CreditNoteError::ReferenceTooLong {
            reference: clip(&reference, 60) + "…",
        });
    }
    let original_notes = original.draft.notes.clone().unwrap_or_default();
    let mut line1 = vec![match refund
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(reason) => format!(
            "Refund {} of order {}: {reason}",
            refund.id, basis.order_number
        ),
        None => format!("Refund {} of order {}", refund.id, basis.order_number),
    }];
    // The invoice's legal texts (an exemption, the buyer's VAT number, the
    // VAT explanation) hold for its credit note too.
    line1.extend(original_notes.text_line1);
    let draft = DraftInvoice {
        currency: original.draft.currency.clone(),
        customer: CustomerRef {
            customer_number: basis.customer_number,
        },
        date: super::iso_date(date),
        due_date: None,
        layout: original.draft.layout.clone(),
        payment_terms: original.draft.payment_terms.clone(),
        recipient: original.draft.recipient.clone(),
        delivery: None,
        notes: Some(Notes {
            heading: Some(clip(
                &format!(
                    "Credit note for invoice {invoice} (order {})",
                    basis.order_number
                ),
                250,
            )),
            text_line1: Some(clip(&line1.join("\n"), 1000)),
            text_line2: original_notes.text_line2,
        }),
        references: Some(References {
            other: Some(reference.clone()),
        }),
        lines,
    };
    let plan = InvoicePlan {
        reference,
        debtor: DebtorPlan::Existing {
            customer_number: basis.customer_number,
        },
        draft,
        book: config.book,
        document: DraftDocument::InvoiceDraft,
        vat_decision: original.vat_decision.clone(),
        expected_net_total: totals.net,
        expected_vat_total: totals.vat,
        expected_gross_total: totals.gross,
        line_vat_rates: totals_lines.iter().map(|l| l.3).collect(),
        sku_products,
        missing_products: original.missing_products,
        product_group: original.product_group,
        vat_free_rounding: original.vat_free_rounding.clone(),
        correction_tolerance: original.correction_tolerance,
        debtor_update: DebtorUpdate::default(),
        warnings: Vec::new(),
        send_by_ean: original.send_by_ean && config.book,
        line_origins: Vec::new(),
    };
    Ok(CreditNote { plan, entry })
}

/// The credit note's lines as they are priced.
struct CreditLines<'a> {
    original: &'a InvoicePlan,
    lines: Vec<DraftLine>,
    totals_lines: Vec<TotalsLine>,
    sku_products: Vec<SkuProduct>,
}

impl CreditLines<'_> {
    /// Adds a line on the product (and unit) of the invoice's line `source`.
    fn push(
        &mut self,
        source: usize,
        description: &str,
        quantity: Decimal,
        unit: Decimal,
        rate: Decimal,
    ) {
        let original_line = &self.original.draft.lines[source];
        let index = self.lines.len();
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        // A SKU product missing from e-conomic gets the invoice's fallback.
        if let Some(sku) = self
            .original
            .sku_products
            .iter()
            .find(|s| s.line_index == source)
        {
            self.sku_products.push(SkuProduct {
                line_index: index,
                fallback_description: clip(
                    &format!("{description} (SKU {})", sku.product_number),
                    2500,
                ),
                ..sku.clone()
            });
        }
        self.lines.push(DraftLine {
            line_number: number,
            sort_key: number,
            description: clip(description, 2500),
            product: ProductRef {
                product_number: original_line.product.product_number.clone(),
            },
            quantity: quantity.normalize(),
            unit_net_price: unit.normalize(),
            discount_percentage: None,
            unit: original_line.unit.clone(),
        });
        self.totals_lines.push((quantity, unit, None, rate));
    }
}

fn fee_name(kind: FeeKind) -> &'static str {
    match kind {
        FeeKind::PaymentFee => "payment",
        FeeKind::GiftWrapping => "gift wrapping",
        FeeKind::Other => "other",
    }
}

fn add_at(per_rate: &mut Vec<(Decimal, Decimal)>, rate: Decimal, amount: Decimal) {
    match per_rate.iter_mut().find(|r| r.0 == rate) {
        Some(r) => r.1 += amount,
        None => per_rate.push((rate, amount)),
    }
}

/// `amount` spread over the rates in proportion to what remains of each,
/// in øre (largest remainders first), never more than a rate's remainder.
/// `None` when the remainders do not cover it.
fn spread(amount: Decimal, remaining: &[(Decimal, Decimal)]) -> Option<Vec<(Decimal, Decimal)>> {
    let open: Vec<(Decimal, Decimal)> = remaining
        .iter()
        .copied()
        .filter(|r| r.1 > Decimal::ZERO)
        .collect();
    let available: Decimal = open.iter().map(|r| r.1).sum();
    if amount > available || available.is_zero() {
        return None;
    }
    let mut shares: Vec<(Decimal, Decimal, Decimal)> = open
        .iter()
        .map(|&(rate, left)| {
            let exact = amount * left / available;
            let floor = exact.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
            (rate, floor, exact - floor)
        })
        .collect();
    let mut left_over = amount - shares.iter().map(|s| s.1).sum::<Decimal>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2));
    for i in order.into_iter().cycle().take(shares.len() * 4) {
        if left_over <= Decimal::ZERO {
            break;
        }
        if shares[i].1 + CENT <= open[i].1 {
            shares[i].1 += CENT;
            left_over -= CENT;
        }
    }
    if !left_over.is_zero() {
        return None;
    }
    Some(
        shares
            .into_iter()
            .filter(|s| !s.1.is_zero())
            .map(|s| (s.0, round2(s.1)))
            .collect(),
    )
}

/// The draft line whose product carries a goodwill refund at `rate`: the
/// first goods line at that rate, else any line at it.
fn goodwill_line(basis: &CreditBasis, parts: &[InvoicedPart], rate: Decimal) -> Option<usize> {
    parts
        .iter()
        .find(|p| p.rate == rate && matches!(p.origin, LineOrigin::Item { .. }))
        .map(|p| p.first_line)
        .or_else(|| {
            (0..basis.plan.draft.lines.len())
                .find(|&i| basis.plan.line_vat_rates.get(i) == Some(&rate))
        })
}
