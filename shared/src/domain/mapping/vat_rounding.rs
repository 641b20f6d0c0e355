//! Fitting a planned draft to e-conomic's VAT rounding.
//!
//! The mapping plans lines whose totals, rounded **per line**
//! (`money::draft_totals`), equal the order to the øre. Whether e-conomic
//! rounds VAT per line or once per rate for the whole invoice is
//! unconfirmed; under per-invoice rounding the same lines can come out a
//! few øre off. [`fit_lines`] re-prices the draft for a given mode:
//!
//! * per rate, the gross stays what the shop charged at that rate (the
//!   planned lines' gross), and the VAT becomes the VAT contained in that
//!   gross, rounded once: `round2(gross × rate / (100 + rate))`, which is
//!   what an accountant computes from the shop's amounts;
//! * the net at that rate moves by the difference, one øre per line
//!   (largest lines first): a line of quantity 1 changes its unit price by
//!   an øre, a line of more units has one unit split off at a price an øre
//!   away (`5 × 19.99` → `4 × 15.99 + 1 × 16.00`), so quantities, products
//!   and accounts stay as planned;
//! * when no net at the rate carries exactly that VAT *and* sums to the
//!   gross (at 25 %, 1 in 5 gross amounts), the last øre goes to the
//!   VAT-free rounding line (`rounding.vat_free`), so the VAT stays the
//!   contained VAT and the invoice still totals the order.
//!
//! Pure: the e-conomic adapter calls it with the draft it sends.

use crate::domain::economic_model::{DraftLine, ProductRef};
use crate::domain::money::{
    self, draft_totals_with, round2_div, DraftTotals, TotalsLine, VatRounding, CENT, HUNDRED,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The VAT-free rounding product (`rounding.product` when
/// `rounding.vat_free`), for an øre no VAT-bearing line can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatFreeRounding {
    pub product: String,
    pub description: String,
}

/// A draft's lines fitted to a VAT rounding mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FittedLines {
    pub lines: Vec<DraftLine>,
    /// The VAT rate of each line, index for index.
    pub rates: Vec<Decimal>,
    /// The index in the given lines each line came from (`None`: the
    /// VAT-free rounding line added here), so that an error e-conomic
    /// reports on a line can be traced to the planned line.
    pub origins: Vec<Option<usize>>,
    /// What e-conomic computes for `lines` under the mode.
    pub totals: DraftTotals,
}

/// Why the lines cannot be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error(
        "under e-conomic's per-invoice VAT rounding the {rate} % lines cannot total {gross}; \
         set `rounding.vat_free` to true (a rounding product on a VAT-free account) so the \
         bridge can close the last øre"
    )]
    NeedsVatFreeRounding { rate: Decimal, gross: Decimal },
    #[error(
        "under e-conomic's per-invoice VAT rounding the {rate} % lines need {cents} øre more net, \
         and no line at that rate can take it"
    )]
    NoLineToAdjust { rate: Decimal, cents: i64 },
    #[error("the draft has {lines} lines but {rates} VAT rates")]
    RatesDoNotMatchLines { lines: usize, rates: usize },
}

/// The totals tuples e-conomic computes from (lines, rates).
pub fn totals_lines(lines: &[DraftLine], rates: &[Decimal]) -> Vec<TotalsLine> {
    lines
        .iter()
        .zip(rates)
        .map(|(l, &r)| (l.quantity, l.unit_net_price, l.discount_percentage, r))
        .collect()
}

/// `lines` (as planned, per-line rounding) re-priced so that under `mode`
/// the invoice totals the same gross per rate, with per rate the VAT that
/// gross contains. Per-line rounding returns the lines unchanged.
pub fn fit_lines(
    lines: &[DraftLine],
    rates: &[Decimal],
    mode: VatRounding,
    vat_free_rounding: Option<&VatFreeRounding>,
) -> Result<FittedLines, FitError> {
    if mode == VatRounding::PerLine {
        return Ok(FittedLines {
            lines: lines.to_vec(),
            rates: rates.to_vec(),
            origins: (0..lines.len()).map(Some).collect(),
            totals: draft_totals_with(&totals_lines(lines, rates), mode),
        });
    }
    if lines.len() != rates.len() {
        return Err(FitError::RatesDoNotMatchLines {
            lines: lines.len(),
            rates: rates.len(),
        });
    }
    let nets: Vec<Decimal> = lines
        .iter()
        .map(|l| money::line_net(l.quantity, l.unit_net_price, l.discount_percentage))
        .collect();
    // Øre added to each line's net, and to the VAT-free rounding line.
    let mut adjust = vec![0i64; lines.len()];
    let mut vat_free_cents = 0i64;
    let mut seen: Vec<Decimal> = Vec::new();
    for &rate in rates {
        if rate.is_zero() || seen.contains(&rate) {
            continue;
        }
        seen.push(rate);
        let at_rate: Vec<usize> = (0..lines.len()).filter(|&i| rates[i] == rate).collect();
        let net: Decimal = at_rate.iter().map(|&i| nets[i]).sum();
        let gross: Decimal = at_rate
            .iter()
            .map(|&i| money::line_gross(nets[i], rate))
            .sum();
        let contained_vat = round2_div(gross * rate, HUNDRED + rate);
        let wanted_net = net_carrying(gross - contained_vat, contained_vat, rate);
        let rest = gross - wanted_net - contained_vat;
        if !rest.is_zero() && vat_free_rounding.is_none() {
            // Without a VAT-free line the gross must come from this rate
            // alone, VAT an øre off the contained VAT if need be.
            match money::single_net_for_gross(gross, rate) {
                Some(net_alone) => {
                    spread(&mut adjust, lines, &at_rate, &nets, cents(net_alone - net)).ok_or(
                        FitError::NoLineToAdjust {
                            rate,
                            cents: cents(net_alone - net),
                        },
                    )?;
                    continue;
                }
                None => return Err(FitError::NeedsVatFreeRounding { rate, gross }),
            }
        }
        let needed = cents(wanted_net - net);
        spread(&mut adjust, lines, &at_rate, &nets, needed).ok_or(FitError::NoLineToAdjust {
            rate,
            cents: needed,
        })?;
        vat_free_cents += cents(rest);
    }

    let mut out_lines = Vec::with_capacity(lines.len() + 2);
    let mut out_rates = Vec::with_capacity(lines.len() + 2);
    let mut origins = Vec::with_capacity(lines.len() + 2);
    for (i, line) in lines.iter().enumerate() {
        let step = CENT * Decimal::from(adjust[i]);
        if adjust[i] == 0 {
            out_lines.push(line.clone());
        } else if line.quantity == Decimal::ONE {
            let mut changed = line.clone();
            changed.unit_net_price = (line.unit_net_price + step).normalize();
            out_lines.push(changed);
        } else {
            let mut kept = line.clone();
            kept.quantity = (line.quantity - Decimal::ONE).normalize();
            let mut split = line.clone();
            split.quantity = Decimal::ONE;
            split.unit_net_price = (line.unit_net_price + step).normalize();
            out_lines.push(kept);
            out_rates.push(rates[i]);
            origins.push(Some(i));
            out_lines.push(split);
        }
        out_rates.push(rates[i]);
        origins.push(Some(i));
    }
    if vat_free_cents != 0 {
        let amount = CENT * Decimal::from(vat_free_cents);
        let rounding = vat_free_rounding.ok_or(FitError::NeedsVatFreeRounding {
            rate: Decimal::ZERO,
            gross: amount,
        })?;
        let existing = out_lines.iter().zip(&out_rates).position(|(l, r)| {
            r.is_zero()
                && l.product.product_number == rounding.product
                && l.quantity == Decimal::ONE
                && l.discount_percentage.is_none()
        });
        match existing {
            Some(i) => {
                let line = &mut out_lines[i];
                line.unit_net_price = (line.unit_net_price + amount).normalize();
            }
            None => {
                out_lines.push(DraftLine {
                    line_number: 0,
                    sort_key: 0,
                    description: rounding.description.clone(),
                    product: ProductRef {
                        product_number: rounding.product.clone(),
                    },
                    quantity: Decimal::ONE,
                    unit_net_price: amount.normalize(),
                    discount_percentage: None,
                    unit: None,
                });
                out_rates.push(Decimal::ZERO);
                origins.push(None);
            }
        }
    }
    for (i, line) in out_lines.iter_mut().enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        line.line_number = number;
        line.sort_key = number;
    }
    let totals = draft_totals_with(&totals_lines(&out_lines, &out_rates), mode);
    Ok(FittedLines {
        lines: out_lines,
        rates: out_rates,
        origins,
        totals,
    })
}

/// A 2-decimal net near `guess` whose VAT at `rate` rounds to `vat`.
/// Exists for every rate below 100 %: a one-øre step in net moves the
/// unrounded VAT by less than an øre.
fn net_carrying(guess: Decimal, vat: Decimal, rate: Decimal) -> Decimal {
    [Decimal::ZERO, -CENT, CENT, -CENT - CENT, CENT + CENT]
        .into_iter()
        .map(|offset| guess + offset)
        .find(|&net| money::line_vat(net, rate) == vat)
        .unwrap_or(guess)
}

fn cents(amount: Decimal) -> i64 {
    (amount / CENT).round().try_into().unwrap_or(i64::MAX)
}

/// Spreads `cents` øre over the lines `at_rate`, one øre per line, largest
/// net first; `None` when no line can take an øre. A line can when its
/// unit price is not zero and one unit of it can be split off exactly.
fn spread(
    adjust: &mut [i64],
    lines: &[DraftLine],
    at_rate: &[usize],
    nets: &[Decimal],
    cents: i64,
) -> Option<()> {
    if cents == 0 {
        return Some(());
    }
    let mut candidates: Vec<usize> = at_rate
        .iter()
        .copied()
        .filter(|&i| {
            let l = &lines[i];
            let split_exact = l.quantity == Decimal::ONE
                || (l.quantity > Decimal::ONE
                    && money::line_net(l.quantity - Decimal::ONE, l.unit_net_price, None)
                        + money::line_net(Decimal::ONE, l.unit_net_price, None)
                        == nets[i]);
            !l.unit_net_price.is_zero() && l.discount_percentage.is_none() && split_exact
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_by_key(|&i| std::cmp::Reverse(nets[i].abs()));
    let step = cents.signum();
    for k in 0..cents.unsigned_abs() {
        let i = candidates[(k as usize) % candidates.len()];
        adjust[i] += step;
    }
    // A price must not change sign: it would turn a sale into a discount.
    candidates
        .iter()
        .all(|&i| {
            let moved = lines[i].unit_net_price + CENT * Decimal::from(adjust[i]);
            moved.is_zero()
                || moved.is_sign_negative() == lines[i].unit_net_price.is_sign_negative()
        })
        .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn line(product: &str, quantity: Decimal, unit: Decimal) -> DraftLine {
        DraftLine {
            line_number: 0,
            sort_key: 0,
            description: product.to_owned(),
            product: ProductRef {
                product_number: product.to_owned(),
            },
            quantity,
            unit_net_price: unit,
            discount_percentage: None,
            unit: None,
        }
    }

    fn rounding() -> VatFreeRounding {
        VatFreeRounding {
            product: "ROUNDING".into(),
            description: "Rounding".into(),
        }
    }

    fn vat_of(fitted: &FittedLines, rate: Decimal) -> Decimal {
        money::nets_per_rate(&totals_lines(&fitted.lines, &fitted.rates))
            .into_iter()
            .filter(|(r, _)| *r == rate)
            .map(|(r, net)| money::line_vat(net, r))
            .sum()
    }

    #[test]
    fn per_line_leaves_the_lines_alone() {
        let lines = vec![
            line("A", dec!(1), dec!(0.46)),
            line("A", dec!(1), dec!(0.46)),
        ];
        let fitted = fit_lines(&lines, &[dec!(25); 2], VatRounding::PerLine, None).unwrap();
        assert_eq!(fitted.lines, lines);
        assert_eq!(fitted.totals.gross, dec!(1.16));
    }

    #[test]
    fn per_invoice_moves_an_øre_of_net_onto_one_line() {
        // Two lines of 0.58 incl. 25 %: planned 0.46 each (VAT 0.12 per
        // line, gross 1.16). Per invoice 0.92 → VAT 0.23, gross 1.15. The
        // VAT in 1.16 is 0.232 → 0.23, so the net must be 0.93.
        let lines = vec![
            line("A", dec!(1), dec!(0.46)),
            line("B", dec!(1), dec!(0.46)),
        ];
        let fitted = fit_lines(
            &lines,
            &[dec!(25); 2],
            VatRounding::PerInvoice,
            Some(&rounding()),
        )
        .unwrap();
        assert_eq!(fitted.totals.gross, dec!(1.16));
        assert_eq!(fitted.totals.vat, dec!(0.23));
        let shape: Vec<_> = fitted
            .lines
            .iter()
            .map(|l| (l.line_number, l.quantity, l.unit_net_price))
            .collect();
        assert_eq!(
            shape,
            vec![(1, dec!(1), dec!(0.47)), (2, dec!(1), dec!(0.46))]
        );
    }

    #[test]
    fn a_line_of_several_units_has_one_unit_split_off() {
        // 3 × 0.46 + 1 × 0.46 at 25 %: VAT 0.35 + 0.12 per line (gross
        // 2.31), per invoice 1.84 → 0.46 (gross 2.30). The VAT in 2.31 is
        // 0.462 → 0.46, so the net must be 1.85: one unit of the larger
        // line is split off at 0.47.
        let lines = vec![
            line("A", dec!(3), dec!(0.46)),
            line("B", dec!(1), dec!(0.46)),
        ];
        let fitted = fit_lines(
            &lines,
            &[dec!(25); 2],
            VatRounding::PerInvoice,
            Some(&rounding()),
        )
        .unwrap();
        assert_eq!(fitted.totals.gross, dec!(2.31));
        let shape: Vec<_> = fitted
            .lines
            .iter()
            .map(|l| {
                (
                    l.product.product_number.as_str(),
                    l.quantity,
                    l.unit_net_price,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("A", dec!(2), dec!(0.46)),
                ("A", dec!(1), dec!(0.47)),
                ("B", dec!(1), dec!(0.46))
            ]
        );
        assert_eq!(fitted.rates.len(), 3);
        assert_eq!(fitted.origins, vec![Some(0), Some(0), Some(1)]);
    }

    #[test]
    fn an_unreachable_gross_gets_its_last_øre_on_the_vat_free_line() {
        // Gross 0.07 at 25 %: net 0.05 → 0.06, net 0.06 → 0.08. The VAT in
        // 0.07 is 0.01 (net 0.05), and 0.01 goes to the VAT-free line.
        let lines = vec![
            line("A", dec!(1), dec!(0.06)),
            line("B", dec!(1), dec!(-0.01)),
        ];
        let rates = [dec!(25), dec!(25)];
        let planned = money::draft_totals(&totals_lines(&lines, &rates));
        assert_eq!(planned.gross, dec!(0.07));
        let fitted = fit_lines(&lines, &rates, VatRounding::PerInvoice, Some(&rounding())).unwrap();
        assert_eq!(fitted.totals.gross, dec!(0.07));
        assert_eq!(fitted.totals.vat, dec!(0.01));
        assert_eq!(
            fitted.lines.last().unwrap().product.product_number,
            "ROUNDING"
        );
        assert_eq!(fitted.lines.last().unwrap().unit_net_price, dec!(0.01));
        // Without a VAT-free line there is no way to 0.07 at 25 % alone.
        assert_eq!(
            fit_lines(&lines, &rates, VatRounding::PerInvoice, None),
            Err(FitError::NeedsVatFreeRounding {
                rate: dec!(25),
                gross: dec!(0.07)
            })
        );
    }

    #[test]
    fn per_invoice_keeps_gross_per_rate_and_the_contained_vat_over_a_grid() {
        // Every combination of a few everyday lines: the fitted invoice
        // totals the planned gross, per rate with the VAT it contains.
        let prices = [dec!(0.46), dec!(7.99), dec!(15.99), dec!(33.33), dec!(0.01)];
        for &a in &prices {
            for &b in &prices {
                for qa in [dec!(1), dec!(3), dec!(60)] {
                    let lines = vec![
                        line("A", qa, a),
                        line("B", dec!(1), b),
                        line("Z", dec!(2), b),
                        line("D", dec!(1), -CENT * dec!(3)),
                    ];
                    let rates = [dec!(25), dec!(25), dec!(0), dec!(25)];
                    let planned = money::draft_totals(&totals_lines(&lines, &rates));
                    let fitted =
                        fit_lines(&lines, &rates, VatRounding::PerInvoice, Some(&rounding()))
                            .unwrap();
                    assert_eq!(fitted.totals.gross, planned.gross, "{a} {b} {qa}");
                    let gross_25 = planned.gross - money::line_net(dec!(2), b, None);
                    assert_eq!(
                        vat_of(&fitted, dec!(25)),
                        round2_div(gross_25 * dec!(25), dec!(125)),
                        "{a} {b} {qa}"
                    );
                    let quantity = |f: &[DraftLine], p: &str| -> Decimal {
                        f.iter()
                            .filter(|l| l.product.product_number == p)
                            .map(|l| l.quantity)
                            .sum()
                    };
                    assert_eq!(quantity(&fitted.lines, "A"), qa);
                    assert_eq!(quantity(&fitted.lines, "Z"), dec!(2));
                }
            }
        }
    }

    #[test]
    fn per_invoice_fits_each_of_several_rates_on_its_own() {
        // Mixed rates (books 7 %, goods 19 %, a 0 % line): per rate, the
        // fitted invoice carries the VAT the planned gross at that rate
        // contains, and that gross up to the øre or two no net at the rate
        // reaches, which the VAT-free rounding line carries; the invoice's
        // gross is the planned one exactly.
        let prices = [dec!(0.46), dec!(7.99), dec!(9.95), dec!(33.33), dec!(0.07)];
        for &a in &prices {
            for &b in &prices {
                for qa in [dec!(1), dec!(3), dec!(7)] {
                    let lines = vec![
                        line("BOOK", qa, a),
                        line("BOOK2", dec!(1), b),
                        line("MUG", dec!(2), b),
                        line("TEA", dec!(1), a),
                        line("NEWS", dec!(1), b),
                    ];
                    let rates = [dec!(7), dec!(7), dec!(19), dec!(19), dec!(0)];
                    let gross_at = |fitted_lines: &[DraftLine], fitted_rates: &[Decimal], rate| {
                        totals_lines(fitted_lines, fitted_rates)
                            .into_iter()
                            .filter(|l| l.3 == rate)
                            .map(|(q, u, d, r)| money::line_gross(money::line_net(q, u, d), r))
                            .sum::<Decimal>()
                    };
                    let fitted =
                        fit_lines(&lines, &rates, VatRounding::PerInvoice, Some(&rounding()))
                            .unwrap();
                    let planned = money::draft_totals(&totals_lines(&lines, &rates));
                    assert_eq!(fitted.totals.gross, planned.gross, "{a} {b} {qa}");
                    let mut off_rate = Decimal::ZERO;
                    for rate in [dec!(7), dec!(19)] {
                        let gross = gross_at(&lines, &rates, rate);
                        let fitted_gross =
                            money::nets_per_rate(&totals_lines(&fitted.lines, &fitted.rates))
                                .into_iter()
                                .filter(|(r, _)| *r == rate)
                                .map(|(r, net)| net + money::line_vat(net, r))
                                .sum::<Decimal>();
                        assert!(
                            (fitted_gross - gross).abs() <= CENT + CENT,
                            "{rate} %: {fitted_gross} for {gross}: {a} {b} {qa}"
                        );
                        off_rate += gross - fitted_gross;
                        assert_eq!(
                            vat_of(&fitted, rate),
                            round2_div(gross * rate, HUNDRED + rate),
                            "{rate} %: {a} {b} {qa}"
                        );
                    }
                    // What the rates' lines do not carry is on the rounding line.
                    let on_rounding: Decimal = fitted
                        .lines
                        .iter()
                        .filter(|l| l.product.product_number == "ROUNDING")
                        .map(|l| l.unit_net_price)
                        .sum();
                    assert_eq!(on_rounding, off_rate, "{a} {b} {qa}");
                }
            }
        }
    }
}
