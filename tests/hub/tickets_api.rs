//! The ticket REST API over real HTTP: lists with filters and pages, reads,
//! updates, who may see and change what, every refusal as JSON with its HTTP
//! status and code, the dead letters, and the OpenAPI document.

use serde_json::{Value, json};
use switchboard::config::{AgentRole, Config};

use crate::common::*;

/// A supervisor (`sue`), an agent on trading (`ann`) and one on earn (`bob`);
/// chats with nobody online become tickets.
fn ticket_config() -> Config {
    let mut sue = agent("sue", &["general"], &["en"], 3);
    sue.role = AgentRole::Supervisor;
    let mut config = config(vec![
        sue,
        agent("ann", &["trading"], &["en"], 3),
        agent("bob", &["earn"], &["en"], 3),
    ]);
    config.tickets.ticket_when_unserved = true;
    config
}

const SUE: &str = "token-sue";
const ANN: &str = "token-ann";
const BOB: &str = "token-bob";

/// A ticket from a visitor's chat on `topic` with nobody online: its id.
async fn ticket(server: &TestServer, visitor: &str, topic: &str) -> String {
    let (mut customer, _) = server.customer(visitor).await;
    customer
        .send(json!({"type": "start", "topic": topic, "text": "help"}))
        .await;
    let offline = customer.until("offline").await;
    assert_eq!(offline["leave_message"], true, "{offline}");
    customer
        .send(json!({"type": "leave_message", "text": "please call me"}))
        .await;
    let ended = customer.until("ended").await;
    assert_eq!(ended["reason"], "ticketed", "{ended}");
    let id = ended["ticket_id"]
        .as_str()
        .expect("a ticket id")
        .to_string();
    customer.close().await;
    id
}

/// One request; the body parsed as JSON (`Null` if it is not JSON).
async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, Value) {
    let (status, body) = http_request(server.addr, method, path, headers, body).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

async fn get(server: &TestServer, token: &str, path: &str) -> (u16, Value) {
    call(server, "GET", path, &bearer(token), "").await
}

async fn patch(server: &TestServer, token: &str, id: &str, body: Value) -> (u16, Value) {
    let headers = format!("{}Content-Type: application/json\r\n", bearer(token));
    call(
        server,
        "PATCH",
        &format!("/api/tickets/{id}"),
        &headers,
        &body.to_string(),
    )
    .await
}

/// The ids of a list answer, in order.
fn ids(list: &Value) -> Vec<String> {
    list["tickets"]
        .as_array()
        .unwrap_or_else(|| panic!("no tickets in {list}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// An error answer: this status, this code, and a message containing `says`.
#[track_caller]
fn refused((status, body): (u16, Value), want: u16, code: &str, says: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "`{message}` lacks `{says}`");
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn lists_filter_and_page_newest_first() {
    let server = TestServer::start(ticket_config()).await;
    let first = ticket(&server, "v1", "trading").await;
    let between = time::OffsetDateTime::now_utc();
    let second = ticket(&server, "v2", "earn").await;
    let third = ticket(&server, "v3", "trading").await;

    let (status, all) = get(&server, SUE, "/api/tickets").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [third.as_str(), second.as_str(), first.as_str()]);
    assert_eq!(all["next_cursor"], Value::Null);
    let summary = &all["tickets"][2];
    assert_eq!(summary["topic"], "trading");
    assert_eq!(summary["status"], "open");
    assert_eq!(summary["customer"]["key"], "v:v1");
    assert_eq!(summary["conversation_ids"].as_array().unwrap().len(), 1);
    assert!(summary["messages"].as_u64().unwrap() >= 1, "{summary}");
    assert!(
        summary.get("conversations").is_none(),
        "a summary, no transcript"
    );

    let (_, earn) = get(&server, SUE, "/api/tickets?topic=earn").await;
    assert_eq!(ids(&earn), [second.as_str()]);
    let (_, v1) = get(&server, SUE, "/api/tickets?customer=v:v1").await;
    assert_eq!(ids(&v1), [first.as_str()]);
    let path = format!("/api/tickets?created_since={}", rfc3339(between));
    let (_, since) = get(&server, SUE, &path).await;
    assert_eq!(ids(&since), [third.as_str(), second.as_str()]);
    let (_, later) = get(
        &server,
        SUE,
        "/api/tickets?created_since=2999-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(ids(&later), Vec::<String>::new());

    let (status, _) = patch(&server, SUE, &third, json!({"status": "pending"})).await;
    assert_eq!(status, 200);
    let (_, pending) = get(&server, SUE, "/api/tickets?status=pending").await;
    assert_eq!(ids(&pending), [third.as_str()]);
    let (_, open) = get(&server, SUE, "/api/tickets?status=open&topic=trading").await;
    assert_eq!(ids(&open), [first.as_str()]);

    let (_, page) = get(&server, SUE, "/api/tickets?limit=2").await;
    assert_eq!(ids(&page), [third.as_str(), second.as_str()]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, rest) = get(
        &server,
        SUE,
        &format!("/api/tickets?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(ids(&rest), [first.as_str()]);
    assert_eq!(rest["next_cursor"], Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn a_ticket_reads_whole_and_updates() {
    let server = TestServer::start(ticket_config()).await;
    let id = ticket(&server, "reader", "trading").await;

    let (status, whole) = get(&server, ANN, &format!("/api/tickets/{id}")).await;
    assert_eq!(status, 200, "{whole}");
    assert_eq!(whole["id"], id.as_str());
    assert_eq!(whole["revision"], 1);
    let transcript = whole["conversations"][0]["transcript"].as_array().unwrap();
    assert!(
        transcript.iter().any(|m| m["text"] == "please call me"),
        "{whole}"
    );

    let (status, updated) = patch(
        &server,
        ANN,
        &id,
        json!({"status": "pending", "assignee": "ann", "note": "called back, waiting for the TxID"}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "pending");
    assert_eq!(updated["assignee"], "ann");
    assert_eq!(updated["revision"], 2);
    let note = &updated["notes"][0];
    assert_eq!(note["author"], "ann");
    assert_eq!(note["text"], "called back, waiting for the TxID");
    assert!(note["at"].as_str().is_some());

    // `null` unassigns; an absent field is left alone.
    let (status, unassigned) = patch(&server, ANN, &id, json!({"assignee": null})).await;
    assert_eq!(status, 200, "{unassigned}");
    assert_eq!(unassigned["assignee"], Value::Null);
    assert_eq!(unassigned["status"], "pending");
    assert_eq!(unassigned["notes"].as_array().unwrap().len(), 1);

    // A supervisor assigns anyone of the roster; the read shows it.
    let (status, _) = patch(
        &server,
        SUE,
        &id,
        json!({"assignee": "bob", "status": "closed"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, read) = get(&server, SUE, &format!("/api/tickets/{id}")).await;
    assert_eq!(read["assignee"], "bob");
    assert_eq!(read["status"], "closed");
    assert_eq!(read["revision"], 4);
    server.shutdown().await;
}

#[tokio::test]
async fn an_agent_sees_its_topics_and_its_own_tickets_a_supervisor_everything() {
    let server = TestServer::start(ticket_config()).await;
    let trading = ticket(&server, "t", "trading").await;
    let earn = ticket(&server, "e", "earn").await;
    let on_trading = format!("/api/tickets/{trading}");

    let (_, sue) = get(&server, SUE, "/api/tickets").await;
    assert_eq!(ids(&sue), [earn.as_str(), trading.as_str()]);
    let (_, ann) = get(&server, ANN, "/api/tickets").await;
    assert_eq!(ids(&ann), [trading.as_str()]);
    let (_, bob) = get(&server, BOB, "/api/tickets").await;
    assert_eq!(ids(&bob), [earn.as_str()]);
    // A filter never widens what an agent sees.
    let (_, bob_trading) = get(&server, BOB, "/api/tickets?topic=trading").await;
    assert_eq!(ids(&bob_trading), Vec::<String>::new());

    // Not on bob's topics: as if it did not exist, to read and to change.
    refused(
        get(&server, BOB, &on_trading).await,
        404,
        "not_found",
        &trading,
    );
    refused(
        patch(&server, BOB, &trading, json!({"note": "mine now"})).await,
        404,
        "not_found",
        &trading,
    );
    refused(
        patch(&server, BOB, &trading, json!({"assignee": "bob"})).await,
        404,
        "not_found",
        "no ticket",
    );
    let (status, _) = get(&server, SUE, &on_trading).await;
    assert_eq!(status, 200);
    let (status, _) = get(&server, ANN, &on_trading).await;
    assert_eq!(status, 200);

    // Once a supervisor assigns it to bob, bob sees it and may work on it.
    let (status, _) = patch(&server, SUE, &trading, json!({"assignee": "bob"})).await;
    assert_eq!(status, 200);
    let (status, read) = get(&server, BOB, &on_trading).await;
    assert_eq!(status, 200, "{read}");
    let (_, bob) = get(&server, BOB, "/api/tickets").await;
    assert_eq!(ids(&bob), [earn.as_str(), trading.as_str()]);
    let (status, _) = patch(&server, BOB, &trading, json!({"status": "pending"})).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn every_endpoint_wants_a_known_agent_token() {
    let mut config = ticket_config();
    // Fifteen wrong tokens from one address, on purpose: not a guesser.
    config.security.auth_failure_burst = 100;
    let server = TestServer::start(config).await;
    let id = ticket(&server, "auth", "trading").await;
    let item = format!("/api/tickets/{id}");
    let json_body = "Content-Type: application/json\r\n";
    for (method, path, body) in [
        ("GET", "/api/tickets", ""),
        ("GET", item.as_str(), ""),
        ("PATCH", item.as_str(), r#"{"status":"closed"}"#),
        ("GET", "/api/webhooks/dead-letters", ""),
        (
            "POST",
            "/api/webhooks/dead-letters/0190a8f2-7c1e-7000-8000-000000000000/1/retry",
            "",
        ),
    ] {
        refused(
            call(&server, method, path, json_body, body).await,
            401,
            "unauthorized",
            "Authorization",
        );
        for malformed in [
            "Authorization: Basic dG9rZW4tc3Vl\r\n",
            "Authorization: token-sue\r\n",
        ] {
            refused(
                call(
                    &server,
                    method,
                    path,
                    &format!("{malformed}{json_body}"),
                    body,
                )
                .await,
                401,
                "unauthorized",
                "Bearer",
            );
        }
        refused(
            call(
                &server,
                method,
                path,
                &format!("{}{json_body}", bearer("token-eve")),
                body,
            )
            .await,
            401,
            "unauthorized",
            "unknown agent token",
        );
    }
    // Nothing was changed on the way.
    let (_, read) = get(&server, SUE, &item).await;
    assert_eq!(read["status"], "open");
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let server = TestServer::start(ticket_config()).await;
    let unknown = "0190a8f2-7c1e-7000-8000-000000000000";
    refused(
        get(&server, SUE, &format!("/api/tickets/{unknown}")).await,
        404,
        "not_found",
        unknown,
    );
    refused(
        patch(&server, SUE, unknown, json!({"status": "closed"})).await,
        404,
        "not_found",
        unknown,
    );
    refused(
        get(&server, SUE, "/api/tickets/not-a-uuid").await,
        400,
        "bad_request",
        "`id`",
    );
    refused(
        patch(&server, SUE, "12345", json!({"status": "closed"})).await,
        400,
        "bad_request",
        "`id`",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_bad_list_parameter_is_named() {
    let server = TestServer::start(ticket_config()).await;
    for (query, says) in [
        ("status=reopened", "open, pending, closed"),
        ("status=", "`status`"),
        ("topic=astrology", "`topic`"),
        ("customer=someone", "`customer`"),
        ("created_since=yesterday", "`created_since`"),
        ("created_since=2024-05-01", "`created_since`"),
        ("cursor=42", "`cursor`"),
        ("limit=0", "`limit`"),
        ("limit=201", "`limit`"),
        ("limit=ten", "`limit`"),
        ("limit=-1", "`limit`"),
        ("colour=red", "colour"),
        ("status=open&status=closed", "status"),
    ] {
        let (status, body) = get(&server, SUE, &format!("/api/tickets?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{query}: `{message}` lacks `{says}`"
        );
    }
    refused(
        get(&server, SUE, "/api/tickets?topic=astrology").await,
        400,
        "bad_request",
        "trading",
    );
    // The edges of `limit` are fine.
    for limit in [1, 200] {
        let (status, _) = get(&server, SUE, &format!("/api/tickets?limit={limit}")).await;
        assert_eq!(status, 200);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn every_bad_update_is_refused_with_its_code() {
    let server = TestServer::start(ticket_config()).await;
    let id = ticket(&server, "bad-patch", "trading").await;
    let path = format!("/api/tickets/{id}");
    let send = |headers: String, body: &'static str| {
        let path = path.clone();
        let server = &server;
        async move { call(server, "PATCH", &path, &headers, body).await }
    };
    let json_type = format!("{}Content-Type: application/json\r\n", bearer(SUE));

    refused(
        send(json_type.clone(), "{\"status\":").await,
        400,
        "bad_request",
        "JSON",
    );
    refused(
        send(json_type.clone(), "").await,
        400,
        "bad_request",
        "JSON",
    );
    refused(
        send(json_type.clone(), "[]").await,
        400,
        "bad_request",
        "body",
    );
    refused(
        send(bearer(SUE), r#"{"status":"closed"}"#).await,
        400,
        "bad_request",
        "Content-Type",
    );
    refused(
        send(
            format!("{}Content-Type: text/plain\r\n", bearer(SUE)),
            r#"{"status":"closed"}"#,
        )
        .await,
        400,
        "bad_request",
        "Content-Type",
    );
    refused(
        send(json_type.clone(), "{}").await,
        400,
        "bad_request",
        "at least one",
    );
    // `null` is no value (the document has no null status or note): absent
    // leaves a field alone, and only `assignee` takes null (to unassign).
    refused(
        send(json_type.clone(), r#"{"status":null}"#).await,
        400,
        "bad_request",
        "status: null is not a value here",
    );
    refused(
        send(json_type.clone(), r#"{"note":null,"status":"closed"}"#).await,
        400,
        "bad_request",
        "note: null is not a value here",
    );
    refused(
        send(
            json_type.clone(),
            r#"{"status":"closed","priority":"urgent"}"#,
        )
        .await,
        400,
        "bad_request",
        "priority",
    );
    refused(
        send(json_type.clone(), r#"{"status":"reopened"}"#).await,
        400,
        "bad_request",
        "reopened",
    );
    refused(
        send(json_type.clone(), r#"{"assignee":7}"#).await,
        400,
        "bad_request",
        "assignee",
    );
    // An assignee not in the roster is not found, as in
    // `POST /api/agents/zed/status`.
    refused(
        patch(&server, SUE, &id, json!({"assignee": "zed"})).await,
        404,
        "not_found",
        "no agent `zed` in the roster",
    );
    refused(
        patch(&server, ANN, &id, json!({"assignee": "bob"})).await,
        401,
        "unauthorized",
        "supervisor role required",
    );
    refused(
        patch(&server, SUE, &id, json!({"note": "  "})).await,
        400,
        "bad_request",
        "`note`",
    );
    refused(
        patch(&server, SUE, &id, json!({"note": "x".repeat(4001)})).await,
        413,
        "too_large",
        "`note`",
    );

    // None of it changed the ticket.
    let (_, read) = get(&server, SUE, &path).await;
    assert_eq!(read["revision"], 1, "{read}");
    assert_eq!(read["assignee"], Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn reopening_beside_a_newer_open_ticket_is_a_conflict() {
    let server = TestServer::start(ticket_config()).await;
    let first = ticket(&server, "again", "trading").await;
    let (status, _) = patch(&server, SUE, &first, json!({"status": "closed"})).await;
    assert_eq!(status, 200);
    // The same customer on the same topic: a closed ticket is not appended to.
    let second = ticket(&server, "again", "trading").await;
    assert_ne!(first, second);

    refused(
        patch(&server, SUE, &first, json!({"status": "open"})).await,
        409,
        "conflict",
        &second,
    );
    refused(
        patch(&server, ANN, &first, json!({"status": "pending"})).await,
        409,
        "conflict",
        &second,
    );
    // Closing the newer one lets the older one reopen.
    let (status, _) = patch(&server, SUE, &second, json!({"status": "closed"})).await;
    assert_eq!(status, 200);
    let (status, reopened) = patch(&server, SUE, &first, json!({"status": "open"})).await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["status"], "open");
    server.shutdown().await;
}

#[tokio::test]
async fn dead_letters_are_for_supervisors() {
    let server = TestServer::start(ticket_config()).await;
    let retry = "/api/webhooks/dead-letters/0190a8f2-7c1e-7000-8000-000000000000/3/retry";
    refused(
        get(&server, ANN, "/api/webhooks/dead-letters").await,
        401,
        "unauthorized",
        "supervisor role required",
    );
    refused(
        call(&server, "POST", retry, &bearer(ANN), "").await,
        401,
        "unauthorized",
        "supervisor role required",
    );

    let (status, outbox) = get(&server, SUE, "/api/webhooks/dead-letters?limit=10").await;
    assert_eq!(status, 200, "{outbox}");
    assert_eq!(outbox, json!({"pending": 0, "dead": 0, "dead_letters": []}));
    refused(
        get(&server, SUE, "/api/webhooks/dead-letters?limit=0").await,
        400,
        "bad_request",
        "`limit`",
    );
    refused(
        get(&server, SUE, "/api/webhooks/dead-letters?since=x").await,
        400,
        "bad_request",
        "since",
    );
    refused(
        call(&server, "POST", retry, &bearer(SUE), "").await,
        404,
        "not_found",
        "no dead letter",
    );
    refused(
        call(
            &server,
            "POST",
            "/api/webhooks/dead-letters/nope/3/retry",
            &bearer(SUE),
            "",
        )
        .await,
        400,
        "bad_request",
        "`ticket_id`",
    );
    refused(
        call(
            &server,
            "POST",
            "/api/webhooks/dead-letters/0190a8f2-7c1e-7000-8000-000000000000/last/retry",
            &bearer(SUE),
            "",
        )
        .await,
        400,
        "bad_request",
        "`revision`",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_is_generated_and_public() {
    let server = TestServer::start(ticket_config()).await;
    let (status, body) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/tickets",
        "/api/tickets/{id}",
        "/api/webhooks/dead-letters",
        "/api/webhooks/dead-letters/{ticket_id}/{revision}/retry",
    ] {
        assert!(doc["paths"][path].is_object(), "no {path}");
    }
    assert!(doc["paths"]["/api/tickets/{id}"]["patch"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Ticket"].is_object());
    assert!(doc["components"]["schemas"]["ApiErrorBody"].is_object());

    // Every status the server gives is listed: the gate's 403 and 429 on
    // every operation, and each handler's own.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            for status in ["403", "429"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path}: no {status}"
                );
            }
        }
    }
    let update = &doc["paths"]["/api/tickets/{id}"]["patch"]["responses"];
    for status in ["200", "400", "401", "404", "409", "413", "503"] {
        assert!(update[status].is_object(), "PATCH: no {status}");
    }
    // What the node's configuration decides is in it: the topics a filter or
    // a re-route may name, and the longest note.
    let config = ticket_config();
    let topics = json!(config.routing.topics);
    let filters = doc["paths"]["/api/tickets"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let topic = filters
        .iter()
        .find(|p| p["name"] == "topic")
        .expect("topic");
    assert_eq!(topic["schema"]["enum"], topics);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["RouteBody"]["properties"]["topic"]["enum"], topics);
    assert_eq!(
        schemas["TicketPatch"]["properties"]["note"]["maxLength"],
        config.limits.max_text_chars
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_customer_filter_takes_every_key_the_document_allows() {
    let server = TestServer::start(ticket_config()).await;
    // 128 characters of two bytes each: a key no user id makes (a user id is
    // at most 128 bytes), but one the document's pattern allows, so the
    // filter takes it and finds nothing.
    let key = format!("u:{}", "%C3%A9".repeat(128));
    let (status, page) = get(&server, SUE, &format!("/api/tickets?customer={key}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["tickets"], json!([]));
    let key = format!("u:{}", "%C3%A9".repeat(129));
    refused(
        get(&server, SUE, &format!("/api/tickets?customer={key}")).await,
        400,
        "bad_request",
        "`customer`",
    );
    server.shutdown().await;
}
