//! Products that need not exist (`mapping.products.missing`): a line whose
//! product is the order line's SKU goes to its generic product
//! (`fallback`), has its product created (`create`), or is sent as it is
//! (`fail`: the order fails naming the product).
//!
//! Which SKUs exist is learnt from e-conomic's refusals, not by listing the
//! agreement's products: the draft is sent with the SKUs, and a refusal
//! (400, E06000 "… does not exist" on `lines[i].product`, LIVE) names the
//! missing ones. Their lines then fall back (or their products are
//! created) and the draft is sent once more. A SKU refused is remembered
//! per agreement for [`MISSING_PRODUCTS_TTL`], so later orders send its
//! lines to the generic product at once and cost no extra call. Listing
//! would cost a call per 1,000 products on the first order of every
//! agreement; a refusal costs one call per distinct missing SKU, and none
//! for SKUs that exist (most of them, in a shop that keeps e-conomic's
//! products up to date). A product the merchant creates is used once its
//! entry expires.

use super::client::AgreementApi;
use super::error::EconomicError;
use crate::domain::economic_model::{DraftInvoice, NewProduct, ProductGroupRef};
use crate::domain::mapping::{InvoicePlan, MissingProducts, SkuProduct};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a refused SKU is taken as missing. Long enough that an
/// agreement's orders mostly cost one call each, short enough that a
/// product the merchant creates is used within the quarter hour.
pub const MISSING_PRODUCTS_TTL: Duration = Duration::from_secs(15 * 60);

const CACHE_KIND: &str = "missing-products";

/// SKUs of one agreement e-conomic refused, and when.
#[derive(Debug, Default)]
struct MissingSkus {
    refused_at: HashMap<String, Instant>,
}

fn missing_skus(api: &AgreementApi) -> Option<Arc<MissingSkus>> {
    api.cache()
        .reference::<MissingSkus>(api.agreement_key(), CACHE_KIND)
}

fn known_missing(api: &AgreementApi, sku: &str) -> bool {
    missing_skus(api).is_some_and(|m| {
        m.refused_at
            .get(sku)
            .is_some_and(|at| at.elapsed() < MISSING_PRODUCTS_TTL)
    })
}

fn remember_missing(api: &AgreementApi, skus: &[String]) {
    let mut refused_at = missing_skus(api)
        .map(|m| m.refused_at.clone())
        .unwrap_or_default();
    refused_at.retain(|_, at| at.elapsed() < MISSING_PRODUCTS_TTL);
    let now = Instant::now();
    for sku in skus {
        refused_at.insert(sku.clone(), now);
    }
    api.cache().remember_reference(
        api.agreement_key(),
        CACHE_KIND,
        Arc::new(MissingSkus { refused_at }),
    );
}

/// Before the first send: under `fallback`, lines whose SKU e-conomic
/// refused recently go to their generic product. No call.
pub(super) fn use_known_fallbacks(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &mut DraftInvoice,
) {
    if plan.missing_products != MissingProducts::Fallback {
        return;
    }
    for sku in &plan.sku_products {
        if known_missing(api, &sku.product_number) {
            use_fallback(draft, sku);
        }
    }
}

fn use_fallback(draft: &mut DraftInvoice, sku: &SkuProduct) {
    if let Some(line) = draft.lines.get_mut(sku.line_index) {
        line.product.product_number = sku.fallback_product.clone();
        line.description = sku.fallback_description.clone();
    }
}

async fn create_product(
    api: &AgreementApi,
    sku: &SkuProduct,
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

/// After a refusal naming the planned lines `refused`: under `fallback`
/// their SKU lines go to the generic products, under `create` their
/// products are created; the SKUs are remembered as missing. True when the
/// draft is worth sending again.
pub(super) async fn handle_refused_lines(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &mut DraftInvoice,
    refused: &[usize],
    deadline: Instant,
) -> Result<bool, EconomicError> {
    let mut gone: Vec<String> = Vec::new();
    for sku in &plan.sku_products {
        let line_named_sku = draft
            .lines
            .get(sku.line_index)
            .is_some_and(|l| l.product.product_number == sku.product_number);
        if !refused.contains(&sku.line_index) || !line_named_sku {
            continue;
        }
        match (plan.missing_products, plan.product_group) {
            (MissingProducts::Fallback, _) => use_fallback(draft, sku),
            (MissingProducts::Create, Some(group)) => {
                // A split line names its product twice: create it once.
                if !gone.contains(&sku.product_number) {
                    create_product(api, sku, group, deadline).await?;
                }
            }
            _ => return Ok(false),
        }
        if !gone.contains(&sku.product_number) {
            gone.push(sku.product_number.clone());
        }
    }
    if gone.is_empty() {
        return Ok(false);
    }
    if plan.missing_products == MissingProducts::Fallback {
        remember_missing(api, &gone);
    }
    Ok(true)
}

/// A clearer reason for a draft refused under `fail`: which SKU is missing
/// and which setting would let the order through.
pub(super) fn missing_product_reason(plan: &InvoicePlan, refused: &[usize]) -> Option<String> {
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
