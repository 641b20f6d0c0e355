//! `shops check ID`: before a shop goes live, ask its e-conomic agreement
//! whether the tokens work and whether every VAT zone, layout, payment
//! term, customer group, customer, product and unit its mapping names
//! exists. Each problem says which setting to change.

use crate::error::{CliError, Status};
use crate::output::Tone;
use crate::Ctx;
use bridge::adapters::economic::{AgreementApi, ClientConfig, EconomicClient, EconomicError};
use bridge::domain::mapping::{
    DebtorFallback, DebtorStrategy, GiftCardVat, MappingConfig, MissingProducts,
};
use bridge::domain::shop::ShopConfig;
use bridge::ports::ShopStore;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One thing to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `tokens`, `vat_zone`, `layout`, `payment_terms`, `customer_group`,
    /// `customer`, `product`, `product_group`, `unit`, `config`.
    pub kind: &'static str,
    /// The configuration setting(s) naming it, e.g. `payment_methods.card.layout`.
    pub field: String,
    pub message: String,
}

/// Settings the VAT rules make risky (docs/shop-configuration.md, "How
/// the VAT treatment is decided"): nothing is broken, but an order may be
/// booked with the wrong VAT or fail. Reported, never a failed check.
pub fn vat_rule_warnings(mapping: &MappingConfig) -> Vec<Problem> {
    let mut warnings = Vec::new();
    let mut warn = |field: &str, message: String| {
        warnings.push(Problem {
            kind: "vat_rules",
            field: field.to_owned(),
            message,
        })
    };
    if mapping.products.gift_card_vat == GiftCardVat::SinglePurpose {
        warn(
            "products.gift_card_vat",
            "products.gift_card_vat is single_purpose: right only if the shop's gift cards can \
             buy goods at one VAT rate delivered in one country and were sold with that VAT \
             (VAT Directive art. 30b(1), momsloven § 73 b); a card usable abroad or for goods \
             at different rates is multi-purpose, and single_purpose under-declares its VAT"
                .to_owned(),
        );
    }
    if let Some(tolerance) = mapping.rounding.tolerance {
        warn(
            "rounding.tolerance",
            format!(
                "rounding.tolerance {tolerance} replaces the bound of a few øre per line: a \
                 wrong VAT rate worth up to {tolerance} would be booked as a rounding line; \
                 remove it, and set rounding.total_step if the shop rounds its totals"
            ),
        );
    }
    if mapping.rounding.per_line / bridge::domain::money::CENT > 5.into() {
        warn(
            "rounding.per_line",
            format!(
                "rounding.per_line {} is more than rounding: a shop rounding VAT per order \
                 differs by half an øre a line",
                mapping.rounding.per_line
            ),
        );
    }
    if mapping.oss.enabled && !mapping.oss.countries.contains_key("XI") {
        warn(
            "oss.countries.XI",
            "oss.countries.XI is missing: Northern Ireland is in the EU VAT area for goods, so \
             its consumer orders (country XI, or GB with a BT postcode) are OSS sales and fail \
             without it; add the zone with UK VAT (\"rate\": \"20\")"
                .to_owned(),
        );
    }
    if !mapping.vies.enabled {
        warn(
            "vies.enabled",
            "vies.enabled is false: EU VAT numbers are checked for prefix and format only; an \
             exempt sale on a number VIES would refuse is the merchant's risk (skat.dk)"
                .to_owned(),
        );
    }
    for (country, rates) in &mapping.vat_rates {
        let charged = *country == mapping.home_country
            || mapping.oss.countries.contains_key(country)
            || (country == "NO" && mapping.voec.enabled)
            || mapping.foreign_vat.contains_key(country);
        if !charged {
            warn(
                &format!("vat_rates.{country}"),
                format!(
                    "vat_rates.{country} is never used: the shop charges no {country} VAT (it is \
                     not home_country, not in oss.countries or foreign_vat, and not NO with VOEC \
                     enabled); lines are keyed by the country whose VAT the invoice charges"
                ),
            );
            continue;
        }
        // The check reads products, not the chain product → group → sales
        // account for the zone → VAT code (and its rate): say so.
        let listed: Vec<String> = rates
            .iter()
            .map(|(rate, target)| format!("{} % → {}", rate.normalize(), target.product))
            .collect();
        warn(
            &format!("vat_rates.{country}"),
            format!(
                "vat_rates.{country} ({}): the check finds the products but not the VAT code of \
                 their group's sales account in {country}'s VAT zone; check in e-conomic that each \
                 carries its rate (a mismatch fails the order when e-conomic's total differs, \
                 and its draft is deleted)",
                listed.join(", ")
            ),
        );
    }
    warnings
}

/// Numbers the mapping refers to, each with the settings that name it.
#[derive(Debug, Default)]
pub struct References {
    pub vat_zones: BTreeMap<u32, Vec<String>>,
    pub layouts: BTreeMap<u32, Vec<String>>,
    pub payment_terms: BTreeMap<u32, Vec<String>>,
    pub customer_groups: BTreeMap<u32, Vec<String>>,
    pub customers: BTreeMap<u32, Vec<String>>,
    pub products: BTreeMap<String, Vec<String>>,
    pub product_groups: BTreeMap<u32, Vec<String>>,
    pub units: BTreeMap<u32, Vec<String>>,
    /// Settings that say a payment term needs `due_days`.
    pub due_days: BTreeMap<String, (u32, Option<u32>)>,
    /// Problems visible without asking e-conomic.
    pub local_problems: Vec<Problem>,
}

fn add<K: Ord>(map: &mut BTreeMap<K, Vec<String>>, key: K, field: impl Into<String>) {
    map.entry(key).or_default().push(field.into());
}

/// Collects every reference from the mapping configuration.
pub fn references(mapping: &MappingConfig) -> References {
    let mut r = References::default();
    let zones = &mapping.vat_zones;
    add(&mut r.vat_zones, zones.domestic, "vat_zones.domestic");
    add(&mut r.vat_zones, zones.eu, "vat_zones.eu");
    add(&mut r.vat_zones, zones.abroad, "vat_zones.abroad");
    add(
        &mut r.vat_zones,
        zones.domestic_exempt,
        "vat_zones.domestic_exempt",
    );
    if mapping.oss.enabled {
        for (country, setup) in &mapping.oss.countries {
            add(
                &mut r.vat_zones,
                setup.vat_zone,
                format!("oss.countries.{country}.vat_zone"),
            );
        }
    }
    if mapping.voec.enabled {
        match mapping.voec.vat_zone {
            Some(zone) => add(&mut r.vat_zones, zone, "voec.vat_zone"),
            None => r.local_problems.push(Problem {
                kind: "config",
                field: "voec.vat_zone".to_owned(),
                message: "voec.enabled is true but voec.vat_zone is not set: create a VAT zone \
                          for Norway (VOEC) in e-conomic and put its number here"
                    .to_owned(),
            }),
        }
    }
    let mut payment = |setup: &bridge::domain::mapping::PaymentSetup, prefix: String| {
        add(&mut r.layouts, setup.layout, format!("{prefix}.layout"));
        add(
            &mut r.payment_terms,
            setup.payment_terms,
            format!("{prefix}.payment_terms"),
        );
        r.due_days
            .insert(prefix, (setup.payment_terms, setup.due_days));
    };
    payment(&mapping.default_payment, "default_payment".to_owned());
    for (method, setup) in &mapping.payment_methods {
        payment(setup, format!("payment_methods.{method}"));
    }
    if let Some(layout) = mapping.debtor.layout {
        add(&mut r.layouts, layout, "debtor.layout");
    }
    add(
        &mut r.customer_groups,
        mapping.debtor.b2c_customer_group,
        "debtor.b2c_customer_group",
    );
    add(
        &mut r.customer_groups,
        mapping.debtor.b2b_customer_group,
        "debtor.b2b_customer_group",
    );
    if let DebtorStrategy::Fixed { customer_number } = mapping.debtor.strategy {
        add(
            &mut r.customers,
            customer_number,
            "debtor.strategy.customer_number",
        );
    }
    if let DebtorFallback::Fixed { customer_number } = mapping.debtor.fallback {
        add(
            &mut r.customers,
            customer_number,
            "debtor.fallback.customer_number",
        );
    }
    let p = &mapping.products;
    for (sku, product) in &p.map {
        add(
            &mut r.products,
            product.clone(),
            format!("products.map.{sku}"),
        );
    }
    for (value, field) in [
        (&p.fallback, "products.fallback"),
        (&p.shipping, "products.shipping"),
        (&p.payment_fee, "products.payment_fee"),
        (&p.gift_wrapping, "products.gift_wrapping"),
        (&p.other_fee, "products.other_fee"),
        (&p.discount, "products.discount"),
        (&p.promotional, "products.promotional"),
        (&p.loyalty_points, "products.loyalty_points"),
        (&p.gift_card, "products.gift_card"),
        (&mapping.rounding.product, "rounding.product"),
    ] {
        add(&mut r.products, value.clone(), field);
    }
    for (country, rates) in &mapping.vat_rates {
        for (rate, target) in rates {
            add(
                &mut r.products,
                target.product.clone(),
                format!("vat_rates.{country}.{}.product", rate.normalize()),
            );
        }
    }
    // What an order line whose SKU is no product needs.
    match (p.missing, p.product_group) {
        (MissingProducts::Fallback, _) => {
            add(
                &mut r.products,
                p.generic.standard.clone(),
                "products.generic.standard",
            );
            add(
                &mut r.products,
                p.generic.zero_rated.clone(),
                "products.generic.zero_rated",
            );
        }
        (MissingProducts::Create, Some(group)) => {
            add(&mut r.product_groups, group, "products.product_group");
        }
        (MissingProducts::Create, None) => r.local_problems.push(Problem {
            kind: "config",
            field: "products.product_group".to_owned(),
            message: "products.missing is `create` but products.product_group is not set: put \
                      the number of the e-conomic product group new products go into here"
                .to_owned(),
        }),
        (MissingProducts::Fail, _) => {}
    }
    if mapping.unit_price_decimals.is_some() {
        r.local_problems.push(Problem {
            kind: "config",
            field: "unit_price_decimals".to_owned(),
            message: "unit_price_decimals is retired and ignored: e-conomic refuses unit prices \
                      with more than two decimals, so the bridge always sends two; remove the key"
                .to_owned(),
        });
    }
    for (unit, number) in &mapping.units {
        add(&mut r.units, *number, format!("units.{unit}"));
    }
    if let Some(number) = mapping.default_unit_number {
        add(&mut r.units, number, "default_unit_number");
    }
    r
}

fn fields(list: &[String]) -> String {
    list.join(", ")
}

fn existing<'a>(items: impl Iterator<Item = (String, &'a str)>) -> String {
    let all: Vec<String> = items.map(|(n, name)| format!("{n} {name}")).collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

/// Compares references with what exists; one problem per missing number.
fn missing<T>(
    kind: &'static str,
    noun: &str,
    wanted: &BTreeMap<u32, Vec<String>>,
    have: &[T],
    number: impl Fn(&T) -> u32,
    name: impl Fn(&T) -> &str,
    problems: &mut Vec<Problem>,
) {
    for (wanted_number, settings) in wanted {
        if !have.iter().any(|item| number(item) == *wanted_number) {
            problems.push(Problem {
                kind,
                field: fields(settings),
                message: format!(
                    "{noun} {wanted_number} ({}) does not exist in e-conomic; existing {noun}s: {}",
                    fields(settings),
                    existing(have.iter().map(|i| (number(i).to_string(), name(i))))
                ),
            });
        }
    }
}

fn tokens_problem(e: &EconomicError) -> Option<Problem> {
    matches!(e.status(), Some(401) | Some(403)).then(|| Problem {
        kind: "tokens",
        field: "economic.app_secret_token, economic.agreement_grant_token".to_owned(),
        message: format!(
            "the tokens are wrong: e-conomic answered {} — check economic.app_secret_token \
             (the app's secret token) and economic.agreement_grant_token (the grant the \
             merchant gave the app), then `bridgectl shops put` the file again",
            e.status().unwrap_or_default()
        ),
    })
}

fn economic_failure(e: EconomicError) -> CliError {
    CliError::Failed(format!("could not check against e-conomic: {}", e.reason()))
}

/// Runs every check; `Err` only when e-conomic could not be asked.
pub async fn check(api: &AgreementApi, config: &ShopConfig) -> Result<Vec<Problem>, CliError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let refs = references(&config.mapping);
    let mut problems = refs.local_problems.clone();
    for (field, message) in super::shops::platform_problems(config, time::OffsetDateTime::now_utc())
    {
        problems.push(Problem {
            kind: "config",
            field,
            message,
        });
    }

    let zones = match api.vat_zones(deadline).await {
        Ok(zones) => zones,
        Err(e) => {
            if let Some(problem) = tokens_problem(&e) {
                // Nothing else can be checked with wrong tokens.
                problems.push(problem);
                return Ok(problems);
            }
            return Err(economic_failure(e));
        }
    };
    missing(
        "vat_zone",
        "VAT zone",
        &refs.vat_zones,
        &zones,
        |z| z.vat_zone_number,
        |z| &z.name,
        &mut problems,
    );
    let layouts = api.layouts(deadline).await.map_err(economic_failure)?;
    let live_layouts: Vec<_> = layouts
        .iter()
        .filter(|l| l.deleted != Some(true))
        .cloned()
        .collect();
    missing(
        "layout",
        "layout",
        &refs.layouts,
        &live_layouts,
        |l| l.layout_number,
        |l| &l.name,
        &mut problems,
    );
    let terms = api
        .payment_terms(deadline)
        .await
        .map_err(economic_failure)?;
    missing(
        "payment_terms",
        "payment terms",
        &refs.payment_terms,
        &terms,
        |t| t.payment_terms_number,
        |t| &t.name,
        &mut problems,
    );
    for (prefix, (number, due_days)) in &refs.due_days {
        let due_date_type = terms.iter().any(|t| {
            t.payment_terms_number == *number && t.payment_terms_type.as_deref() == Some("dueDate")
        });
        if due_date_type && due_days.is_none() {
            problems.push(Problem {
                kind: "payment_terms",
                field: format!("{prefix}.due_days"),
                message: format!(
                    "payment terms {number} ({prefix}.payment_terms) are of type dueDate, which \
                     needs a due date: set {prefix}.due_days"
                ),
            });
        }
    }
    let groups = api
        .customer_groups(deadline)
        .await
        .map_err(economic_failure)?;
    missing(
        "customer_group",
        "customer group",
        &refs.customer_groups,
        &groups,
        |g| g.customer_group_number,
        |g| &g.name,
        &mut problems,
    );
    if !refs.product_groups.is_empty() {
        let product_groups = api
            .product_groups(deadline)
            .await
            .map_err(economic_failure)?;
        missing(
            "product_group",
            "product group",
            &refs.product_groups,
            &product_groups,
            |g| g.product_group_number,
            |g| &g.name,
            &mut problems,
        );
    }
    if !refs.units.is_empty() {
        let units = api.units(deadline).await.map_err(economic_failure)?;
        missing(
            "unit",
            "unit",
            &refs.units,
            &units,
            |u| u.unit_number,
            |u| &u.name,
            &mut problems,
        );
    }
    for (number, settings) in &refs.customers {
        if api
            .get_customer(*number, deadline)
            .await
            .map_err(economic_failure)?
            .is_none()
        {
            problems.push(Problem {
                kind: "customer",
                field: fields(settings),
                message: format!(
                    "customer {number} ({}) does not exist in e-conomic: create it or change the setting",
                    fields(settings)
                ),
            });
        }
    }
    for (number, settings) in &refs.products {
        match api
            .get_product(number, deadline)
            .await
            .map_err(economic_failure)?
        {
            None => problems.push(Problem {
                kind: "product",
                field: fields(settings),
                message: format!(
                    "product {number} ({}) does not exist in e-conomic: create it (with the right \
                     VAT account) or change the setting",
                    fields(settings)
                ),
            }),
            Some(product) if product.barred == Some(true) => problems.push(Problem {
                kind: "product",
                field: fields(settings),
                message: format!(
                    "product {number} ({}) is barred in e-conomic: un-bar it or change the setting",
                    fields(settings)
                ),
            }),
            Some(_) => {}
        }
    }
    payment_problems(api, &config.mapping.payments, deadline, &mut problems).await?;
    Ok(problems)
}

/// With `payments` on: its journal and clearing accounts exist.
async fn payment_problems(
    api: &AgreementApi,
    payments: &bridge::domain::mapping::payment::PaymentsConfig,
    deadline: Instant,
    problems: &mut Vec<Problem>,
) -> Result<(), CliError> {
    if !payments.enabled {
        return Ok(());
    }
    let numbered = |list: Vec<serde_json::Value>, key: &str| -> Vec<(u32, String)> {
        list.iter()
            .filter_map(|item| {
                let number = u32::try_from(item.get(key)?.as_u64()?).ok()?;
                let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("");
                Some((number, name.to_owned()))
            })
            .collect()
    };
    let mut journals_wanted = BTreeMap::new();
    if let Some(journal) = payments.journal {
        add(&mut journals_wanted, journal, "payments.journal");
    }
    let journals = api
        .list_all::<serde_json::Value>("/journals", deadline)
        .await
        .map_err(economic_failure)?;
    missing(
        "journal",
        "journal",
        &journals_wanted,
        &numbered(journals, "journalNumber"),
        |j| j.0,
        |j| &j.1,
        problems,
    );
    let mut accounts_wanted = BTreeMap::new();
    for (method, account) in &payments.contra_accounts {
        add(
            &mut accounts_wanted,
            *account,
            format!("payments.contra_accounts.{method}"),
        );
    }
    if let Some(account) = payments.default_contra_account {
        add(
            &mut accounts_wanted,
            account,
            "payments.default_contra_account",
        );
    }
    let accounts = api
        .list_all::<serde_json::Value>("/accounts", deadline)
        .await
        .map_err(economic_failure)?;
    let accounts = numbered(accounts, "accountNumber");
    // The message lists what exists; a chart of accounts is long, so only
    // the missing numbers are named, not every account.
    for (number, settings) in &accounts_wanted {
        if !accounts.iter().any(|(n, _)| n == number) {
            problems.push(Problem {
                kind: "account",
                field: fields(settings),
                message: format!(
                    "account {number} ({}) does not exist in e-conomic: the clearing account \
                     the payments are entered against",
                    fields(settings)
                ),
            });
        }
    }
    Ok(())
}

/// The shop's agreement at the target's e-conomic.
fn agreement_api(ctx: &Ctx, config: &ShopConfig) -> Result<AgreementApi, CliError> {
    let mut client_config = ClientConfig::default();
    if let Some(base) = &ctx.resolved.target.economic_base_url {
        client_config.base_url = base.clone();
    }
    let client = EconomicClient::new(client_config).map_err(|e| CliError::Config(e.to_string()))?;
    Ok(client.for_agreement(
        config.economic.app_secret_token.clone(),
        config.economic.agreement_grant_token.clone(),
    ))
}

/// Whether e-conomic accepts the configuration's tokens (one read).
pub async fn verify_tokens(ctx: &Ctx, config: &ShopConfig) -> Result<(), CliError> {
    let api = agreement_api(ctx, config)?;
    match api
        .vat_zones(Instant::now() + Duration::from_secs(30))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(match tokens_problem(&e) {
            Some(_) => CliError::Failed(format!(
                "e-conomic refused the new tokens ({}): nothing was stored",
                e.status().unwrap_or_default()
            )),
            None => economic_failure(e),
        }),
    }
}

/// Shops on the same agreement whose reference format is the same: their
/// orders with the same number share a reference, and a retry or a
/// cancellation of one could take the other's draft.
pub fn shared_references(config: &ShopConfig, others: &[ShopConfig]) -> Vec<Problem> {
    others
        .iter()
        .filter(|other| {
            other.shop_id != config.shop_id
                && other.economic.agreement_grant_token == config.economic.agreement_grant_token
                && other.mapping.reference_format == config.mapping.reference_format
        })
        .map(|other| Problem {
            kind: "config",
            field: "reference_format".to_owned(),
            message: format!(
                "shop {} books into the same e-conomic agreement with the same reference_format \
                 ({:?}): orders with the same number would share a reference, and a retry or a \
                 cancellation of one could take the other's draft; give each shop its own \
                 format, e.g. \"{} order {{number}}\"",
                other.shop_id, config.mapping.reference_format, config.shop_id
            ),
        })
        .collect()
}

/// Every other shop in the table, read in full (sealed secrets opened).
pub async fn other_shops(ctx: &Ctx, shop_id: &str) -> Result<Vec<ShopConfig>, CliError> {
    let summaries = ctx
        .shops_admin()?
        .list_shops()
        .await
        .map_err(|e| ctx.shops_error(e))?;
    let store = ctx.shop_store()?;
    let mut others = Vec::new();
    for summary in summaries.iter().filter(|s| s.shop_id != shop_id) {
        if let Some(other) = store
            .get(&summary.shop_id)
            .await
            .map_err(|e| ctx.shops_error(e))?
        {
            others.push(other);
        }
    }
    Ok(others)
}

pub async fn run(ctx: &Ctx, shop_id: &str) -> Result<Status, CliError> {
    let config = super::shops::load(ctx, shop_id).await?;
    let api = agreement_api(ctx, &config)?;
    let mut problems = check(&api, &config).await?;
    problems.extend(shared_references(
        &config,
        &other_shops(ctx, shop_id).await?,
    ));
    let warnings = vat_rule_warnings(&config.mapping);
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": shop_id,
            "ok": problems.is_empty(),
            "problems": problems,
            "warnings": warnings,
            "economic_calls": api.calls(),
        }));
        return Ok(Status::problems_if(!problems.is_empty()));
    }
    for warning in &warnings {
        outln!(
            "{} {}",
            ctx.printer.paint("warning", Tone::Warn),
            warning.message
        );
    }
    if problems.is_empty() {
        outln!(
            "{} shop {shop_id}: tokens work and every number in the mapping exists in e-conomic",
            ctx.printer.paint("ok", Tone::Good)
        );
    } else {
        outln!(
            "{} problem(s) for shop {shop_id}:",
            ctx.printer.paint(&problems.len().to_string(), Tone::Bad)
        );
        for problem in &problems {
            outln!("- {}", problem.message);
        }
    }
    Ok(Status::problems_if(!problems.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shops_sharing_an_agreement_and_a_reference_format_are_a_problem() {
        let shop = |id: &str, token: &str, format: &str| -> ShopConfig {
            serde_json::from_value(json!({
                "shop_id": id,
                "webhook_secrets": [{"secret": "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHM="}],
                "economic": {"app_secret_token": "app", "agreement_grant_token": token},
                "mapping": {
                    "reference_format": format,
                    "payment_methods": {"card": {"layout": 19, "payment_terms": 1}}
                }
            }))
            .expect("the test shop parses")
        };
        let a = shop("a", "grant-1", "Order {number}");
        let others = [
            shop("a", "grant-1", "Order {number}"),
            shop("b", "grant-1", "Order {number}"),
            shop("c", "grant-1", "Shop C order {number}"),
            shop("d", "grant-2", "Order {number}"),
        ];
        let problems = shared_references(&a, &others);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "reference_format");
        assert!(problems[0].message.starts_with("shop b "));
        assert!(
            !problems[0].message.contains("grant-1"),
            "no token in the message"
        );
    }

    #[test]
    fn references_name_the_settings() {
        let mapping: MappingConfig = serde_json::from_value(json!({
            "payment_methods": {"card": {"layout": 7, "payment_terms": 6}},
            "units": {"kg": 3},
            "products": {"map": {"TS-RED": "SKU-1"}},
            "voec": {"enabled": true}
        }))
        .unwrap();
        let r = references(&mapping);
        assert_eq!(r.layouts[&7], vec!["payment_methods.card.layout"]);
        assert_eq!(r.layouts[&19], vec!["default_payment.layout"]);
        assert_eq!(r.units[&3], vec!["units.kg"]);
        assert_eq!(r.products["SKU-1"], vec!["products.map.TS-RED"]);
        assert!(r.products["FEE"].contains(&"products.payment_fee".to_owned()));
        assert_eq!(r.local_problems.len(), 1, "VOEC without a zone");
        assert_eq!(r.local_problems[0].field, "voec.vat_zone");
        // The default `products.missing: fallback` needs the generic products.
        assert_eq!(r.products["GENERIC"], vec!["products.generic.standard"]);
        assert_eq!(r.products["GENERIC-0"], vec!["products.generic.zero_rated"]);
        assert!(r.product_groups.is_empty());
    }

    #[test]
    fn risky_vat_settings_are_warned_about() {
        let fields = |mapping: serde_json::Value| -> Vec<String> {
            let mapping: MappingConfig = serde_json::from_value(mapping).unwrap();
            vat_rule_warnings(&mapping)
                .into_iter()
                .map(|w| w.field)
                .collect()
        };
        // The defaults: OSS on without Northern Ireland.
        assert_eq!(fields(json!({})), ["oss.countries.XI"]);
        let safe = json!({"oss": {"countries": {"XI": {"vat_zone": 21, "rate": "20"}}}});
        assert!(fields(safe).is_empty());
        assert!(fields(json!({"oss": {"enabled": false}})).is_empty());
        assert_eq!(
            fields(json!({
                "oss": {"enabled": false},
                "products": {"gift_card_vat": "reduce_vat"},
                "rounding": {"tolerance": "1"},
                "vies": {"enabled": false}
            })),
            [
                "products.gift_card_vat",
                "rounding.tolerance",
                "vies.enabled"
            ]
        );
    }

    #[test]
    fn vat_rate_products_are_checked_and_an_unused_country_is_warned_about() {
        let mapping: MappingConfig = serde_json::from_value(json!({
            "oss": {"countries": {"XI": {"vat_zone": 21, "rate": "20"},
                                  "DE": {"vat_zone": 10, "rate": "19"}}},
            "vat_rates": {
                "DE": {"7": {"product": "OSS-DE-7"}},
                "DK": {"0": {"product": "NEWS0"}},
                "US": {"5": {"product": "US-5"}}
            }
        }))
        .unwrap();
        let r = references(&mapping);
        assert_eq!(r.products["OSS-DE-7"], vec!["vat_rates.DE.7.product"]);
        assert_eq!(r.products["NEWS0"], vec!["vat_rates.DK.0.product"]);
        let warnings = vat_rule_warnings(&mapping);
        let fields: Vec<&str> = warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["vat_rates.DE", "vat_rates.DK", "vat_rates.US"]);
        assert!(warnings[0].message.contains("7 % → OSS-DE-7"));
        assert!(warnings[2].message.contains("never used"));
    }

    #[test]
    fn create_needs_a_product_group_and_fail_no_generic_products() {
        let create: MappingConfig = serde_json::from_value(json!({
            "products": {"missing": "create", "product_group": 3},
            "unit_price_decimals": 4
        }))
        .unwrap();
        let r = references(&create);
        assert_eq!(r.product_groups[&3], vec!["products.product_group"]);
        assert!(!r.products.contains_key("GENERIC"));
        assert_eq!(r.local_problems.len(), 1);
        assert_eq!(r.local_problems[0].field, "unit_price_decimals");
        let fail: MappingConfig =
            serde_json::from_value(json!({"products": {"missing": "fail"}})).unwrap();
        let r = references(&fail);
        assert!(!r.products.contains_key("GENERIC") && r.product_groups.is_empty());
    }
}
