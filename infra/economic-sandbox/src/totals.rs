//! Invoice totals as e-conomic computes them: the bridge's own
//! `money::draft_totals_with` (per line: net = round2(quantity × unit net
//! price × (1 − discount % / 100)); VAT per line = round2(net × rate / 100)
//! summed, or, under per-invoice rounding, round2(Σ net at a rate × rate /
//! 100) per rate; gross = net + VAT), so the sandbox and the mapping can
//! never disagree about the rules. Which VAT rounding e-conomic uses is
//! unconfirmed: the sandbox does either (`--vat-rounding`, `PUT
//! /_sandbox/settings`).

use bridge::domain::money::{draft_totals_with, DraftTotals, VatRounding};
use rust_decimal::Decimal;

pub type Totals = DraftTotals;

pub struct LineInput {
    pub quantity: Decimal,
    pub unit_net_price: Decimal,
    pub discount_percentage: Option<Decimal>,
    pub vat_rate_percent: Decimal,
}

pub fn line_net(line: &LineInput) -> Decimal {
    bridge::domain::money::line_net(line.quantity, line.unit_net_price, line.discount_percentage)
}

pub fn compute(lines: &[LineInput], mode: VatRounding) -> Totals {
    let tuples: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.quantity,
                l.unit_net_price,
                l.discount_percentage,
                l.vat_rate_percent,
            )
        })
        .collect();
    draft_totals_with(&tuples, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn discount_and_rounding() {
        let lines = [
            LineInput {
                quantity: dec!(3),
                unit_net_price: dec!(33.33),
                discount_percentage: Some(dec!(10)),
                vat_rate_percent: dec!(25),
            },
            LineInput {
                quantity: dec!(1),
                unit_net_price: dec!(39),
                discount_percentage: None,
                vat_rate_percent: dec!(0),
            },
        ];
        let t = compute(&lines, VatRounding::PerLine);
        // 99.99 × 0.9 = 89.991 → 89.99; VAT 22.4975 → 22.50
        assert_eq!(t.net, dec!(128.99));
        assert_eq!(t.vat, dec!(22.50));
        assert_eq!(t.gross, dec!(151.49));
        // One VAT-bearing line: both modes agree.
        assert_eq!(compute(&lines, VatRounding::PerInvoice), t);
    }
}
