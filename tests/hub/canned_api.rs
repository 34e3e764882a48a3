//! `GET /api/canned`: the configuration's canned replies, for any agent token,
//! in configuration order; without a good token, 401.

use serde_json::json;
use switchboard::canned::CannedReply;

use crate::common::*;

#[tokio::test]
async fn agents_read_the_canned_replies_in_configuration_order() {
    let mut config = config(vec![agent("ann", &["trading"], &["en"], 2)]);
    config.canned = vec![
        CannedReply {
            shortcut: "txid".into(),
            title: "Ask for the TxID".into(),
            text: [(
                "en".to_string(),
                "Could you send the TxID of the transaction?".to_string(),
            )]
            .into(),
            topics: Some(vec!["deposit_withdrawal".into()]),
        },
        CannedReply {
            shortcut: "greet".into(),
            title: "Greeting".into(),
            text: [
                (
                    "es".to_string(),
                    "Hola {customer_name}, soy {agent_name}.".to_string(),
                ),
                (
                    "en".to_string(),
                    "Hello {customer_name}, I am {agent_name}.".to_string(),
                ),
            ]
            .into(),
            topics: None,
        },
    ];
    let server = TestServer::start(config).await;

    let (status, body) = api(server.addr, "GET", "/api/canned", Some("token-ann"), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"canned": [
            {"shortcut": "txid", "title": "Ask for the TxID",
             "text": {"en": "Could you send the TxID of the transaction?"},
             "topics": ["deposit_withdrawal"]},
            {"shortcut": "greet", "title": "Greeting",
             "text": {"en": "Hello {customer_name}, I am {agent_name}.",
                      "es": "Hola {customer_name}, soy {agent_name}."},
             "topics": null},
        ]})
    );

    api_refused(
        api(server.addr, "GET", "/api/canned", None, "").await,
        401,
        "unauthorized",
        "Authorization: Bearer",
    );
    api_refused(
        api(server.addr, "GET", "/api/canned", Some("token-nobody"), "").await,
        401,
        "unauthorized",
        "unknown agent token",
    );
    let (status, body) = http_request(
        server.addr,
        "GET",
        "/api/canned",
        "Authorization: token-ann\r\n",
        "",
    )
    .await;
    assert_eq!(status, 401, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn no_canned_replies_is_an_empty_list() {
    let server = TestServer::start(config(vec![agent("ann", &["trading"], &["en"], 2)])).await;
    let (status, body) = api(server.addr, "GET", "/api/canned", Some("token-ann"), "").await;
    assert_eq!((status, body), (200, json!({"canned": []})));
    server.shutdown().await;
}
