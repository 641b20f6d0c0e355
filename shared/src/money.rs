//! Money arithmetic and the model of how e-conomic totals a draft invoice.
//!
//! Every amount is a `rust_decimal::Decimal`; no float ever touches money.
//!
//! # Rounding rules
//!
//! * Currency amounts are rounded to 2 decimals, **half away from zero**
//!   (`0.005 → 0.01`, `-0.005 → -0.01`) — [`round2`].
//! * A draft line's net amount is `round2(quantity × unitNetPrice × (1 − discount% / 100))`.
//! * A draft line's VAT is `round2(line net × rate / 100)`, **per line**
//!   (not per rate group); the invoice VAT is the sum of the line VATs.
//! * Invoice net = Σ line net, invoice gross = net + VAT.
//!
//! [`draft_totals`] is the single place this model lives: the mapping uses it
//! to plan invoices whose gross equals the shop's order total to the øre, and
//! the e-conomic sandbox uses it to compute what it answers.

use rust_decimal::{Decimal, RoundingStrategy};

/// One hundred, for percent arithmetic.
pub const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// The smallest currency step the invoice totals carry (0.01).
pub const CENT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Rounds to 2 decimals, half away from zero.
pub fn round2(value: Decimal) -> Decimal {
    round_dp(value, 2)
}

/// Rounds to `decimals` places, half away from zero.
pub fn round_dp(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// `value × rate / 100` without rounding (rate in percent). `None` on overflow.
pub fn percent_of(value: Decimal, rate_percent: Decimal) -> Option<Decimal> {
    value.checked_mul(rate_percent)?.checked_div(HUNDRED)
}

/// `1 + rate / 100` (rate in percent).
pub fn vat_factor(rate_percent: Decimal) -> Decimal {
    Decimal::ONE + rate_percent / HUNDRED
}

/// One draft line as e-conomic totals it:
/// `(quantity, unit net price, discount percent, VAT rate percent)`.
pub type TotalsLine = (Decimal, Decimal, Option<Decimal>, Decimal);

/// What e-conomic computes for a draft invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DraftTotals {
    pub net: Decimal,
    pub vat: Decimal,
    pub gross: Decimal,
}

/// Net amount of one draft line: `round2(quantity × unit net price × (1 − discount%/100))`.
///
/// Callers keep inputs within the order contract's bounds (|amount| ≤ 10¹²,
/// quantity ≤ 10⁹), far inside `Decimal`'s range, so this cannot overflow.
pub fn line_net(
    quantity: Decimal,
    unit_net_price: Decimal,
    discount_percent: Option<Decimal>,
) -> Decimal {
    let gross_before_discount = quantity * unit_net_price;
    let net = match discount_percent {
        Some(discount) if !discount.is_zero() => {
            gross_before_discount * (HUNDRED - discount) / HUNDRED
        }
        _ => gross_before_discount,
    };
    round2(net)
}

/// VAT of one draft line: `round2(line net × rate / 100)`.
pub fn line_vat(line_net_amount: Decimal, rate_percent: Decimal) -> Decimal {
    round2(line_net_amount * rate_percent / HUNDRED)
}

/// Totals of a draft invoice exactly as e-conomic computes them (see the
/// module's rounding rules): per-line rounding of net and VAT, then sums.
pub fn draft_totals(lines: &[TotalsLine]) -> DraftTotals {
    let mut totals = DraftTotals::default();
    for &(quantity, unit_net_price, discount_percent, rate_percent) in lines {
        let net = line_net(quantity, unit_net_price, discount_percent);
        totals.net += net;
        totals.vat += line_vat(net, rate_percent);
    }
    totals.gross = totals.net + totals.vat;
    totals
}

/// The gross amount (`net + round2(net × rate)`) one line of net amount
/// `net` (already 2 decimals) adds to an invoice at `rate_percent`.
pub fn line_gross(net: Decimal, rate_percent: Decimal) -> Decimal {
    net + line_vat(net, rate_percent)
}

/// Net amounts (2 decimals) of one or two rounding lines, each carrying VAT
/// at `rate_percent`, whose gross amounts add up to exactly `gap`.
///
/// With VAT on the rounding line, `net + round2(net × r)` skips some values
/// (at 25 %: net 0.01 → 0.01, net 0.02 → 0.03, so a gap of 0.02 has no single
/// net). For rates below 50 % a step of one cent in net moves the gross by
/// one or two cents, so if no single net hits the gap, a net hitting
/// `gap − 0.01` exists and a second line of net 0.01 (gross 0.01) completes
/// it. Returns `None` for rates ≥ 50 % when no single line works.
pub fn rounding_nets(gap: Decimal, rate_percent: Decimal) -> Option<Vec<Decimal>> {
    if gap.is_zero() {
        return Some(Vec::new());
    }
    if rate_percent.is_zero() {
        return Some(vec![round2(gap)]);
    }
    if let Some(net) = single_net_for_gross(gap, rate_percent) {
        return Some(vec![net]);
    }
    if rate_percent >= Decimal::from(50) {
        return None;
    }
    let step = if gap.is_sign_negative() { -CENT } else { CENT };
    let first = single_net_for_gross(gap - step, rate_percent)?;
    Some(vec![first, step])
}

/// A 2-decimal net with `net + round2(net × rate) == gross`, if one exists.
/// Searches the neighbourhood of `gross / (1 + rate)`.
pub fn single_net_for_gross(gross: Decimal, rate_percent: Decimal) -> Option<Decimal> {
    let guess = round2(gross / vat_factor(rate_percent));
    [
        Decimal::ZERO,
        -CENT,
        CENT,
        -CENT * Decimal::TWO,
        CENT * Decimal::TWO,
    ]
    .into_iter()
    .map(|offset| guess + offset)
    .find(|&net| line_gross(net, rate_percent) == gross)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn round2_is_half_away_from_zero() {
        assert_eq!(round2(dec!(0.005)), dec!(0.01));
        assert_eq!(round2(dec!(0.0049)), dec!(0.00));
        assert_eq!(round2(dec!(-0.005)), dec!(-0.01));
        assert_eq!(round2(dec!(2.675)), dec!(2.68));
        assert_eq!(round2(dec!(19.9975)), dec!(20.00));
    }

    #[test]
    fn draft_totals_rounds_each_line() {
        // 3 × 26.664 = 79.992 → 79.99; VAT 19.9975 → 20.00; gross 99.99.
        let totals = draft_totals(&[(dec!(3), dec!(26.664), None, dec!(25))]);
        assert_eq!(totals.net, dec!(79.99));
        assert_eq!(totals.vat, dec!(20.00));
        assert_eq!(totals.gross, dec!(99.99));
        // Per-line VAT: two lines of 0.02 net at 25 % give 0.01 VAT each
        // (0.005 rounds up), where a per-rate-group sum would give 0.01.
        let totals = draft_totals(&[
            (dec!(1), dec!(0.02), None, dec!(25)),
            (dec!(1), dec!(0.02), None, dec!(25)),
        ]);
        assert_eq!(totals.vat, dec!(0.02));
        assert_eq!(totals.gross, dec!(0.06));
    }

    #[test]
    fn draft_totals_applies_discount_percent_before_rounding() {
        let totals = draft_totals(&[(dec!(2), dec!(10.05), Some(dec!(10)), dec!(25))]);
        // 20.10 × 0.9 = 18.09; VAT 4.5225 → 4.52.
        assert_eq!(totals.net, dec!(18.09));
        assert_eq!(totals.vat, dec!(4.52));
        assert_eq!(totals.gross, dec!(22.61));
    }

    #[test]
    fn negative_lines_round_symmetrically() {
        let totals = draft_totals(&[(dec!(1), dec!(-0.02), None, dec!(25))]);
        assert_eq!(totals.vat, dec!(-0.01));
        assert_eq!(totals.gross, dec!(-0.03));
    }

    #[test]
    fn rounding_nets_hit_every_gap_at_common_rates() {
        for rate in [
            dec!(0),
            dec!(6),
            dec!(17),
            dec!(19),
            dec!(21),
            dec!(25),
            dec!(27),
        ] {
            for cents in -300i64..=300 {
                let gap = Decimal::new(cents, 2);
                let nets = rounding_nets(gap, rate).expect("reachable below 50 %");
                let reached: Decimal = nets.iter().map(|&n| line_gross(n, rate)).sum();
                assert_eq!(reached, gap, "gap {gap} at {rate} %");
                assert!(nets.len() <= 2);
            }
        }
    }

    #[test]
    fn rounding_nets_need_two_lines_only_when_one_cannot_reach() {
        // At 25 %: gross 0.02 is unreachable by one line.
        assert_eq!(single_net_for_gross(dec!(0.02), dec!(25)), None);
        assert_eq!(
            rounding_nets(dec!(0.02), dec!(25)),
            Some(vec![dec!(0.01), dec!(0.01)])
        );
        assert_eq!(rounding_nets(dec!(0.03), dec!(25)), Some(vec![dec!(0.02)]));
    }
}
