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
//! e-conomic may instead round VAT once per rate for the whole invoice
//! ([`VatRounding::PerInvoice`], [`draft_totals_with`]); which one the live
//! API does is unconfirmed, so both are modelled here.
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
    let scale = value.scale();
    if scale <= 2 {
        return value;
    }
    // Integer rounding of the mantissa: exact, and far cheaper than
    // `round_dp_with_strategy` on 28-digit quotients.
    match 10i128.checked_pow(scale - 2) {
        Some(divisor) => Decimal::from_i128_with_scale(div_half_away(value.mantissa(), divisor), 2),
        None => round_dp(value, 2),
    }
}

/// `round2(a / b)` computed exactly on integers when they fit (no 28-digit
/// intermediate quotient). `b` must not be zero.
pub fn round2_div(a: Decimal, b: Decimal) -> Decimal {
    let exact = || {
        let num = a
            .mantissa()
            .checked_mul(10i128.checked_pow(b.scale() + 2)?)?;
        let den = b.mantissa().checked_mul(10i128.checked_pow(a.scale())?)?;
        if den == 0 {
            return None;
        }
        Some(Decimal::from_i128_with_scale(div_half_away(num, den), 2))
    };
    exact().unwrap_or_else(|| round2(a / b))
}

/// `num / den` rounded half away from zero (`den != 0`).
fn div_half_away(num: i128, den: i128) -> i128 {
    let quotient = num / den;
    let remainder = (num % den).unsigned_abs();
    let den_abs = den.unsigned_abs();
    if remainder >= den_abs - remainder {
        if (num < 0) == (den < 0) {
            quotient + 1
        } else {
            quotient - 1
        }
    } else {
        quotient
    }
}

/// Rounds to `decimals` places, half away from zero.
pub fn round_dp(value: Decimal, decimals: u32) -> Decimal {
    if value.scale() <= decimals {
        // Already that precise: rounding would change nothing (and costs).
        return value;
    }
    value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// `value × rate / 100` without rounding (rate in percent). `None` on overflow.
pub fn percent_of(value: Decimal, rate_percent: Decimal) -> Option<Decimal> {
    value.checked_mul(rate_percent)?.checked_div(HUNDRED)
}

/// `1 + rate / 100` (rate in percent).
pub fn vat_factor(rate_percent: Decimal) -> Decimal {
    Decimal::ONE + div100(rate_percent)
}

/// `value / 100`, exactly: a shift of the decimal point where the scale
/// allows (much cheaper than a division), else a division.
pub fn div100(value: Decimal) -> Decimal {
    let scale = value.scale();
    if scale <= 26 {
        let mut shifted = value;
        // Cannot fail: the new scale is at most 28.
        if shifted.set_scale(scale + 2).is_ok() {
            return shifted;
        }
    }
    value / HUNDRED
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
            div100(gross_before_discount * (HUNDRED - discount))
        }
        _ => gross_before_discount,
    };
    round2(net)
}

/// VAT of one draft line: `round2(line net × rate / 100)`.
pub fn line_vat(line_net_amount: Decimal, rate_percent: Decimal) -> Decimal {
    if rate_percent.is_zero() {
        return Decimal::ZERO;
    }
    round2(div100(line_net_amount * rate_percent))
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

/// How e-conomic rounds VAT on a draft. Which one the live API uses is
/// unconfirmed, so the bridge handles both (see `mapping::vat_rounding`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VatRounding {
    /// VAT = Σ round2(line net × rate): [`draft_totals`].
    #[default]
    PerLine,
    /// Per rate, VAT = round2(Σ line net at that rate × rate); the invoice
    /// VAT is the sum over its rates. Line nets are rounded per line in
    /// both modes.
    PerInvoice,
}

impl VatRounding {
    pub fn name(self) -> &'static str {
        match self {
            VatRounding::PerLine => "per line",
            VatRounding::PerInvoice => "per invoice",
        }
    }
}

/// Totals of a draft under `mode`: [`draft_totals`] for per-line rounding;
/// for per-invoice rounding, line nets summed per rate and VAT rounded once
/// per rate.
pub fn draft_totals_with(lines: &[TotalsLine], mode: VatRounding) -> DraftTotals {
    if mode == VatRounding::PerLine {
        return draft_totals(lines);
    }
    let mut totals = DraftTotals::default();
    for (rate, net) in nets_per_rate(lines) {
        totals.net += net;
        totals.vat += line_vat(net, rate);
    }
    totals.gross = totals.net + totals.vat;
    totals
}

/// `(rate, Σ line net)` per VAT rate, in order of first appearance.
pub fn nets_per_rate(lines: &[TotalsLine]) -> Vec<(Decimal, Decimal)> {
    let mut groups: Vec<(Decimal, Decimal)> = Vec::new();
    for &(quantity, unit_net_price, discount_percent, rate_percent) in lines {
        let net = line_net(quantity, unit_net_price, discount_percent);
        match groups.iter_mut().find(|(rate, _)| *rate == rate_percent) {
            Some(group) => group.1 += net,
            None => groups.push((rate_percent, net)),
        }
    }
    groups
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
    if rate_percent.is_zero() {
        return Some(gross);
    }
    single_net_near(
        gross,
        rate_percent,
        round2(gross / vat_factor(rate_percent)),
    )
}

/// Like [`single_net_for_gross`], searching around a caller's `guess` (which
/// saves the division when the caller already knows the net).
pub fn single_net_near(gross: Decimal, rate_percent: Decimal, guess: Decimal) -> Option<Decimal> {
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
    fn per_invoice_rounding_rounds_vat_once_per_rate() {
        // Two lines of net 0.46 at 25 %: per line 0.115 → 0.12 twice; per
        // invoice 0.92 × 25 % = 0.23. The 0 % line adds net only.
        let lines = [
            (dec!(1), dec!(0.46), None, dec!(25)),
            (dec!(1), dec!(0.46), None, dec!(25)),
            (dec!(1), dec!(5), None, dec!(0)),
        ];
        let per_line = draft_totals_with(&lines, VatRounding::PerLine);
        let per_invoice = draft_totals_with(&lines, VatRounding::PerInvoice);
        assert_eq!((per_line.net, per_line.vat), (dec!(5.92), dec!(0.24)));
        assert_eq!(
            (per_invoice.net, per_invoice.vat, per_invoice.gross),
            (dec!(5.92), dec!(0.23), dec!(6.15))
        );
        assert_eq!(per_line, draft_totals(&lines));
        assert_eq!(
            nets_per_rate(&lines),
            vec![(dec!(25), dec!(0.92)), (dec!(0), dec!(5))]
        );
    }

    #[test]
    fn integer_rounding_matches_decimal_rounding() {
        let values = [
            dec!(0.005),
            dec!(-0.005),
            dec!(0.0049999),
            dec!(2.675),
            dec!(-2.675),
            dec!(79.992),
            dec!(19.9975),
            dec!(1.23456789012345678901234567),
            dec!(-0.0000000000000000000000000001),
            dec!(7922816251426433759354395.0335),
        ];
        for v in values {
            assert_eq!(round2(v), round_dp(v, 2), "{v}");
        }
        let pairs = [
            (dec!(99.95), dec!(1.25)),
            (dec!(35), dec!(1.2)),
            (dec!(4.90), dec!(1.19)),
            (dec!(-56), dec!(1.25)),
            (dec!(0.02), dec!(1.255)),
            (dec!(1), dec!(3)),
            (dec!(-1), dec!(3)),
            (dec!(0.05), dec!(2)),
            (dec!(-0.05), dec!(-2)),
        ];
        for (a, b) in pairs {
            assert_eq!(round2_div(a, b), round_dp(a / b, 2), "{a} / {b}");
        }
    }

    #[test]
    fn div100_is_exact() {
        assert_eq!(div100(dec!(25)), dec!(0.25));
        assert_eq!(div100(dec!(-19.5)), dec!(-0.195));
        assert_eq!(div100(dec!(0)), dec!(0));
        let tiny = Decimal::new(1, 27);
        assert_eq!(div100(tiny), tiny / HUNDRED);
    }

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
