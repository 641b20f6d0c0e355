//! Products that need not exist (`mapping.products.missing`): before the
//! draft is sent, each line whose product is the order line's SKU is checked
//! against the agreement's products, and goes to its generic product
//! (`fallback`), has its product created (`create`), or is sent as it is
//! (`fail`: e-conomic refuses the draft with E06000 and the order fails).
//!
//! Which products exist is cached per agreement: the first order of an
//! agreement in a process lists GET /products (one call per 1,000
//! products), and orders within [`KNOWN_PRODUCTS_TTL`] after it cost no
//! extra call, whether their SKUs exist or not. A product deleted since
//! the list was read is refused by e-conomic with E06000; the push then
//! falls back for that line and sends the draft once more
//! ([`fall_back_for_refused_lines`]). A product created in e-conomic since
//! is used once the list is read again.

use super::client::AgreementApi;
use super::error::EconomicError;
use crate::domain::economic_model::{DraftInvoice, NewProduct, Product, ProductGroupRef};
use crate::domain::mapping::{InvoicePlan, MissingProducts};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a listed set of products is trusted. Long enough that an
/// agreement's orders mostly cost one call each, short enough that a
/// product the merchant creates is used within the hour.
pub const KNOWN_PRODUCTS_TTL: Duration = Duration::from_secs(15 * 60);

const CACHE_KIND: &str = "known-products";

/// The product numbers of one agreement, as listed at `listed_at`.
#[derive(Debug)]
struct KnownProducts {
    listed_at: Instant,
    numbers: HashSet<String>,
}

async fn known_products(
    api: &AgreementApi,
    deadline: Instant,
) -> Result<Arc<KnownProducts>, EconomicError> {
    let agreement = api.agreement_key();
    if let Some(hit) = api
        .cache()
        .reference::<KnownProducts>(agreement, CACHE_KIND)
    {
        if hit.listed_at.elapsed() < KNOWN_PRODUCTS_TTL {
            return Ok(hit);
        }
    }
    let listed = api.list_all::<Product>("/products", deadline).await?;
    let known = Arc::new(KnownProducts {
        listed_at: Instant::now(),
        numbers: listed.into_iter().map(|p| p.product_number).collect(),
    });
    api.cache()
        .remember_reference(agreement, CACHE_KIND, known.clone());
    Ok(known)
}

fn remember(api: &AgreementApi, known: &KnownProducts, add: &[String], drop: &[String]) {
    let mut numbers = known.numbers.clone();
    numbers.extend(add.iter().cloned());
    for number in drop {
        numbers.remove(number);
    }
    api.cache().remember_reference(
        api.agreement_key(),
        CACHE_KIND,
        Arc::new(KnownProducts {
            listed_at: known.listed_at,
            numbers,
        }),
    );
}

/// Makes every SKU line of `draft` name a product that exists, as the
/// plan's `missing_products` says. Under `fail` nothing is checked.
pub(super) async fn resolve_products(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &mut DraftInvoice,
    deadline: Instant,
) -> Result<(), EconomicError> {
    if plan.sku_products.is_empty() || plan.missing_products == MissingProducts::Fail {
        return Ok(());
    }
    let known = known_products(api, deadline).await?;
    let mut created: Vec<String> = Vec::new();
    for sku in &plan.sku_products {
        if known.numbers.contains(&sku.product_number) || created.contains(&sku.product_number) {
            continue;
        }
        match (plan.missing_products, plan.product_group) {
            (MissingProducts::Create, Some(group)) => {
                create_product(api, sku, group, deadline).await?;
                created.push(sku.product_number.clone());
            }
            _ => use_fallback(draft, sku),
        }
    }
    if !created.is_empty() {
        remember(api, &known, &created, &[]);
    }
    Ok(())
}

fn use_fallback(draft: &mut DraftInvoice, sku: &crate::domain::mapping::SkuProduct) {
    if let Some(line) = draft.lines.get_mut(sku.line_index) {
        line.product.product_number = sku.fallback_product.clone();
        line.description = sku.fallback_description.clone();
    }
}

async fn create_product(
    api: &AgreementApi,
    sku: &crate::domain::mapping::SkuProduct,
    group: u32,
    deadline: Instant,
) -> Result<(), EconomicError> {
    let product = NewProduct {
        product_number: sku.product_number.clone(),
        name: sku.name.clone(),
        product_group: ProductGroupRef {
            product_group_number: group,
        },
    };
    match api.create_product(&product, deadline).await {
        Ok(_) => Ok(()),
        // Created meanwhile, or by our own create whose answer was lost.
        Err(e)
            if e.outcome_unknown()
                || e.api().is_some_and(|a| a.has_field_error("productNumber")) =>
        {
            match api.get_product(&sku.product_number, deadline).await? {
                Some(_) => Ok(()),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Draft line indexes e-conomic refused because their product does not
/// exist (LIVE: E06000 "… does not exist" on `lines[i].product`).
pub(super) fn refused_product_lines(e: &EconomicError) -> Vec<usize> {
    let Some(api) = e.api() else {
        return Vec::new();
    };
    if api.status != 400 {
        return Vec::new();
    }
    api.field_errors
        .iter()
        .filter(|f| {
            f.error_code.as_deref() == Some("E06000")
                || f.message.to_lowercase().contains("does not exist")
        })
        .filter_map(|f| {
            let rest = f.path.strip_prefix("lines[")?;
            let (index, field) = rest.split_once(']')?;
            field
                .starts_with(".product")
                .then(|| index.parse().ok())
                .flatten()
        })
        .collect()
}

/// After a refusal: under `fallback`, moves the refused SKU lines to their
/// generic products and forgets those products. True when the draft
/// changed and is worth sending again.
pub(super) fn fall_back_for_refused_lines(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &mut DraftInvoice,
    error: &EconomicError,
) -> bool {
    if plan.missing_products != MissingProducts::Fallback {
        return false;
    }
    let refused = refused_product_lines(error);
    let mut gone = Vec::new();
    for sku in &plan.sku_products {
        let line_named_sku = draft
            .lines
            .get(sku.line_index)
            .is_some_and(|l| l.product.product_number == sku.product_number);
        if refused.contains(&sku.line_index) && line_named_sku {
            use_fallback(draft, sku);
            gone.push(sku.product_number.clone());
        }
    }
    if gone.is_empty() {
        return false;
    }
    if let Some(known) = api
        .cache()
        .reference::<KnownProducts>(api.agreement_key(), CACHE_KIND)
    {
        remember(api, &known, &[], &gone);
    }
    true
}

/// A clearer reason for a draft refused under `fail`: which SKU is missing
/// and which setting would let the order through.
pub(super) fn missing_product_reason(plan: &InvoicePlan, error: &EconomicError) -> Option<String> {
    let refused = refused_product_lines(error);
    let mut missing: Vec<&str> = Vec::new();
    for sku in &plan.sku_products {
        // A split line names its product twice.
        if refused.contains(&sku.line_index) && !missing.contains(&sku.product_number.as_str()) {
            missing.push(&sku.product_number);
        }
    }
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "product {} does not exist in e-conomic and `mapping.products.missing` is `fail`: \
         create it in e-conomic, map the SKU in `products.map`, or set `products.missing` \
         to `fallback` or `create`",
        missing.join(", ")
    ))
}
