//! Fake shop back ends for label write-back: the Shopify Admin GraphQL API
//! (`POST /admin/api/{version}/graphql.json`, `X-Shopify-Access-Token`) and
//! the WooCommerce REST API v3 (`PUT /wp-json/wc/v3/orders/{id}`, `POST
//! …/notes`, and `GET …/refunds/{refund_id}` for the refunds the test puts
//! there, HTTP Basic with the consumer key and secret) on one local
//! HTTP server. Each checks its credentials as the real one does, keeps
//! its orders' tags, note, meta and notes, and records every request, so
//! the tests assert what the bridge wrote.
//!
//! The GraphQL side understands the operations the bridge sends (an
//! `order(id:)` query; `tagsRemove`, `tagsAdd` and `orderUpdate` fields in
//! one mutation, run in document order) and answers like Shopify: `null`
//! for an unknown order, `userErrors` in mutations, and, when told to, a
//! cost-based throttle (HTTP 200, `errors[].extensions.code = THROTTLED`).

use crate::receiver::spawn_serving;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One order in the fake shop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopOrder {
    /// Shopify tags, in the order they were added.
    pub tags: Vec<String>,
    /// Shopify's order note.
    pub note: Option<String>,
    /// WooCommerce `meta_data` (key → value).
    pub meta: BTreeMap<String, String>,
    /// WooCommerce order notes, oldest first.
    pub notes: Vec<String>,
}

/// One request the fake got.
#[derive(Debug, Clone)]
pub struct AdminRequest {
    pub method: String,
    pub path: String,
    /// The credentials were right.
    pub authorized: bool,
    pub body: String,
}

/// The credentials the fake accepts.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    pub shopify_access_token: String,
    pub woo_consumer_key: String,
    pub woo_consumer_secret: String,
}

#[derive(Debug)]
struct State {
    credentials: AdminCredentials,
    orders: Mutex<BTreeMap<String, ShopOrder>>,
    /// WooCommerce refunds: `(order id, refund id)` → the REST API's body.
    refunds: Mutex<BTreeMap<(String, String), Value>>,
    requests: Mutex<Vec<AdminRequest>>,
    /// GraphQL requests still to answer THROTTLED.
    throttled: AtomicU32,
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeShopAdmin {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeShopAdmin {
    /// Listens on 127.0.0.1 (`port` 0 picks a free one).
    pub async fn start(port: u16, credentials: AdminCredentials) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            credentials,
            orders: Mutex::default(),
            refunds: Mutex::default(),
            requests: Mutex::default(),
            throttled: AtomicU32::new(0),
        });
        let serving = state.clone();
        let task = spawn_serving(listener, move |request| {
            let state = serving.clone();
            async move { answer(&state, request).await }
        });
        Ok(FakeShopAdmin { addr, state, task })
    }

    /// The base URL: a Shopify `admin_url`, a WooCommerce `store_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Puts an order into the shop (the merchant's own tags and note).
    pub fn add_order(&self, id: &str, tags: &[&str], note: Option<&str>) {
        let order = ShopOrder {
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            note: note.map(str::to_owned),
            ..ShopOrder::default()
        };
        self.orders().insert(id.to_owned(), order);
    }

    /// Puts a WooCommerce refund into the shop, as its REST API returns it
    /// (`GET /wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}`).
    pub fn add_woo_refund(&self, order_id: &str, refund_id: &str, refund: Value) {
        self.state
            .refunds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((order_id.to_owned(), refund_id.to_owned()), refund);
    }

    /// The merchant edits the order's tags in the shop admin.
    pub fn set_tags(&self, id: &str, tags: &[&str]) {
        if let Some(order) = self.orders().get_mut(id) {
            order.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        }
    }

    pub fn order(&self, id: &str) -> Option<ShopOrder> {
        self.orders().get(id).cloned()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<AdminRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The next `count` GraphQL requests are answered THROTTLED.
    pub fn throttle_next(&self, count: u32) {
        self.state.throttled.store(count, Ordering::SeqCst);
    }

    fn orders(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ShopOrder>> {
        self.state.orders.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeShopAdmin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn answer(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let shopify_token = header("x-shopify-access-token");
    let basic = header("authorization");
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let credentials = &state.credentials;
    let (authorized, response) = if path.starts_with("/admin/api/") {
        let authorized = shopify_token.as_deref() == Some(&credentials.shopify_access_token);
        (
            authorized,
            shopify(state, &method, &path, authorized, &body),
        )
    } else if let Some(rest) = path.strip_prefix("/wp-json/wc/v3/orders/") {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                credentials.woo_consumer_key, credentials.woo_consumer_secret
            ))
        );
        let authorized = basic.as_deref() == Some(expected.as_str());
        (
            authorized,
            woocommerce(state, &method, rest, authorized, &body),
        )
    } else {
        (
            false,
            reply(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
        )
    };
    state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(AdminRequest {
            method,
            path,
            authorized,
            body,
        });
    response
}

// ---------------------------------------------------------------- Shopify

fn cost(requested: u32, available: f64) -> Value {
    json!({"cost": {"requestedQueryCost": requested, "actualQueryCost": null,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0}}})
}

fn graphql_error(message: &str, code: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::OK,
        json!({"errors": [{"message": message, "extensions": {"code": code}}]}),
    )
}

fn shopify(
    state: &State,
    method: &str,
    path: &str,
    authorized: bool,
    body: &str,
) -> Response<Full<Bytes>> {
    let version = path
        .strip_prefix("/admin/api/")
        .and_then(|rest| rest.strip_suffix("/graphql.json"))
        .unwrap_or_default();
    let version_ok = version.len() == 7 && version.as_bytes()[4] == b'-';
    if method != "POST" || !version_ok {
        return reply(StatusCode::NOT_FOUND, json!({"errors": "Not Found"}));
    }
    if !authorized {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
        );
    }
    if state
        .throttled
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        let mut answer =
            json!({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]});
        answer["extensions"] = cost(12, 2.0);
        return reply(StatusCode::OK, answer);
    }
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return reply(StatusCode::BAD_REQUEST, json!({"errors": "Bad Request"}));
    };
    let query = request["query"].as_str().unwrap_or_default();
    let variables = &request["variables"];
    let Some(order_id) = variables["id"]
        .as_str()
        .and_then(|gid| gid.strip_prefix("gid://shopify/Order/"))
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
    else {
        return graphql_error("Invalid global id", "argumentLiteralsIncompatible");
    };
    let mut orders = state.orders.lock().unwrap_or_else(|e| e.into_inner());
    if query.trim_start().starts_with("query") {
        let order = orders
            .get(&order_id)
            .map(|o| json!({"id": variables["id"], "tags": o.tags, "note": o.note}));
        let mut answer = json!({"data": {"order": order}});
        answer["extensions"] = cost(1, 1999.0);
        return reply(StatusCode::OK, answer);
    }
    if !query.trim_start().starts_with("mutation") {
        return graphql_error("unsupported operation", "undefinedField");
    }
    // The fields in document order, as Shopify runs a mutation's fields.
    let mut fields: Vec<(usize, &str)> = ["tagsRemove(", "tagsAdd(", "orderUpdate("]
        .iter()
        .filter_map(|f| query.find(f).map(|at| (at, *f)))
        .collect();
    fields.sort();
    let mut data = serde_json::Map::new();
    for (_, field) in fields {
        let (alias, outcome) = match field {
            "tagsRemove(" => (
                "removed",
                tags_edit(&mut orders, &order_id, &variables["remove"], false),
            ),
            "tagsAdd(" => (
                "added",
                tags_edit(&mut orders, &order_id, &variables["add"], true),
            ),
            _ => (
                "noted",
                note_edit(&mut orders, &order_id, &variables["order"]),
            ),
        };
        let errors = match outcome {
            Ok(()) => json!([]),
            Err(message) => json!([{"field": ["id"], "message": message}]),
        };
        data.insert(alias.to_owned(), json!({"userErrors": errors}));
    }
    let mut answer = json!({"data": data});
    answer["extensions"] = cost(10, 1990.0);
    reply(StatusCode::OK, answer)
}

fn tags_edit(
    orders: &mut BTreeMap<String, ShopOrder>,
    order_id: &str,
    tags: &Value,
    add: bool,
) -> Result<(), String> {
    let order = orders.get_mut(order_id).ok_or("Order does not exist")?;
    let tags: Vec<String> = tags
        .as_array()
        .ok_or("tags must be a list")?
        .iter()
        .filter_map(Value::as_str)
        .map(|t| t.trim().to_owned())
        .collect();
    for tag in tags {
        let present = order.tags.iter().any(|t| t.eq_ignore_ascii_case(&tag));
        if add && !present {
            order.tags.push(tag);
        } else if !add {
            order.tags.retain(|t| !t.eq_ignore_ascii_case(&tag));
        }
    }
    Ok(())
}

fn note_edit(
    orders: &mut BTreeMap<String, ShopOrder>,
    order_id: &str,
    input: &Value,
) -> Result<(), String> {
    let order = orders.get_mut(order_id).ok_or("Order does not exist")?;
    if input["id"].as_str() != Some(&format!("gid://shopify/Order/{order_id}")) {
        return Err("input.id does not match".into());
    }
    order.note = input["note"].as_str().map(str::to_owned);
    Ok(())
}

// ---------------------------------------------------------------- WooCommerce

fn woo_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        json!({"code": code, "message": message, "data": {"status": status.as_u16()}}),
    )
}

fn woocommerce(
    state: &State,
    method: &str,
    rest: &str,
    authorized: bool,
    body: &str,
) -> Response<Full<Bytes>> {
    if !authorized {
        return woo_error(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_authentication_error",
            "Consumer key is invalid.",
        );
    }
    if let Some((order_id, refund_id)) = rest.split_once("/refunds/").filter(|_| method == "GET") {
        let refunds = state.refunds.lock().unwrap_or_else(|e| e.into_inner());
        return match refunds.get(&(order_id.to_owned(), refund_id.to_owned())) {
            Some(refund) => reply(StatusCode::OK, refund.clone()),
            None => woo_error(
                StatusCode::NOT_FOUND,
                "woocommerce_rest_invalid_id",
                "Invalid ID.",
            ),
        };
    }
    let (order_id, notes) = match rest.split_once('/') {
        Some((id, "notes")) => (id, true),
        Some(_) => {
            return woo_error(
                StatusCode::NOT_FOUND,
                "rest_no_route",
                "No route was found.",
            )
        }
        None => (rest, false),
    };
    let mut orders = state.orders.lock().unwrap_or_else(|e| e.into_inner());
    let Some(order) = orders.get_mut(order_id) else {
        return woo_error(
            StatusCode::NOT_FOUND,
            "woocommerce_rest_shop_order_invalid_id",
            "Invalid ID.",
        );
    };
    let Ok(request) = serde_json::from_str::<Value>(body) else {
        return woo_error(
            StatusCode::BAD_REQUEST,
            "rest_invalid_json",
            "Invalid JSON body.",
        );
    };
    match (method, notes) {
        ("PUT", false) => {
            for entry in request["meta_data"].as_array().into_iter().flatten() {
                if let (Some(key), Some(value)) = (entry["key"].as_str(), entry["value"].as_str()) {
                    order.meta.insert(key.to_owned(), value.to_owned());
                }
            }
            let meta: Vec<Value> = order
                .meta
                .iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect();
            reply(StatusCode::OK, json!({"id": order_id, "meta_data": meta}))
        }
        ("POST", true) => {
            let Some(note) = request["note"].as_str().filter(|n| !n.is_empty()) else {
                return woo_error(
                    StatusCode::BAD_REQUEST,
                    "rest_missing_callback_param",
                    "Missing parameter(s): note",
                );
            };
            order.notes.push(note.to_owned());
            reply(
                StatusCode::CREATED,
                json!({"id": order.notes.len(), "note": note,
                       "customer_note": request["customer_note"].as_bool().unwrap_or(false)}),
            )
        }
        _ => woo_error(
            StatusCode::NOT_FOUND,
            "rest_no_route",
            "No route was found.",
        ),
    }
}
