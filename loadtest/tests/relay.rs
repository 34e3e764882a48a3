//! switchboard's relay measured as the floor is, against a real server in this
//! process (memory store), with the roster `relay-roster` prints.

#[path = "support/steps.rs"]
mod steps;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard::{config::Config, store::MemoryStore};
use switchboard_loadtest::{
    floor::{Ceiling, FloorResult},
    relay::{self, SideBySide, SwitchboardRelay},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A switchboard server on 127.0.0.1:0 with the relay roster.
struct Server {
    url: String,
    stop: oneshot::Sender<()>,
    served: JoinHandle<()>,
}

impl Server {
    async fn start(agents: usize, capacity: u32) -> Self {
        let mut config: Config =
            toml::from_str(&relay::roster_toml(agents, capacity)).expect("the roster is a config");
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.validate().expect("the roster is valid");
        assert_eq!(config.agents.len(), agents);
        assert!(config.agents.iter().all(|a| a.capacity == capacity));
        let listener = TcpListener::bind(config.listen).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            switchboard::server::run_with_store(
                listener,
                config,
                Arc::new(MemoryStore::default()),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("server runs");
        });
        Self {
            url: format!("ws://{addr}"),
            stop,
            served,
        }
    }

    fn relay(&self, agents: usize) -> SwitchboardRelay {
        SwitchboardRelay {
            customer_urls: vec![self.url.clone()],
            agent_urls: vec![self.url.clone()],
            agents: relay::roster_tokens(agents),
            ..SwitchboardRelay::default()
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.served)
            .await
            .expect("server stops")
            .expect("server task");
    }
}

fn assert_sane(result: &FloorResult) {
    for p in [result.delivery, result.echo] {
        assert!(p.p50_ms > 0.0, "{p:?}");
        assert!(p.p50_ms <= p.p90_ms && p.p90_ms <= p.p99_ms, "{p:?}");
        assert!(p.p99_ms <= p.p999_ms && p.p999_ms <= p.max_ms, "{p:?}");
        assert!(p.mean_ms > 0.0 && p.mean_ms <= p.max_ms, "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_delivered_and_echoed_and_the_chats_are_resolved() {
    let server = Server::start(4, 10).await;

    let result = relay::measure_switchboard(SwitchboardRelay {
        pairs: 20,
        rate: 500.0,
        duration: Duration::from_secs(2),
        ..server.relay(4)
    })
    .await
    .expect("measure");
    assert_eq!(result.pairs, 20);
    assert!(
        result.relay.starts_with("customers at ws://127.0.0.1:"),
        "{}",
        result.relay
    );
    // 25 per pair per second for 2 s; the schedule's edges may cut one each.
    assert!((980..=1000).contains(&result.sent), "sent {}", result.sent);
    assert_eq!(result.delivered, result.sent, "every message delivered");
    assert_eq!(result.echoed, result.sent, "every message echoed");
    assert_eq!(result.delivery.count, result.sent);
    assert_eq!(result.echo.count, result.sent);
    assert!(
        (450.0..=505.0).contains(&result.achieved_msgs_per_sec),
        "achieved {}",
        result.achieved_msgs_per_sec
    );
    assert_sane(&result);
    assert!(result.delivery.p99_ms < 500.0, "{:?}", result.delivery);
    assert_eq!(result.ceiling_msgs_per_sec, None);
    assert!(result.steps.is_empty());

    // The first run resolved its 20 chats: all 40 slots are free again, and a
    // ceiling run with tiny steps uses them and stops by itself.
    let started = Instant::now();
    let result = relay::measure_switchboard(SwitchboardRelay {
        pairs: 40,
        rate: 100.0,
        duration: Duration::from_millis(300),
        ceiling: Some(Ceiling {
            start_rate: Some(200.0),
            factor: 2.0,
            step: Duration::from_millis(300),
            max_steps: 3,
            ..Ceiling::default()
        }),
        ..server.relay(4)
    })
    .await
    .expect("a ceiling run with every slot of the roster");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded in time: {:?}",
        started.elapsed()
    );
    steps::assert_doubling_steps(&result, 200.0, 3);
    let ceiling = result.ceiling_msgs_per_sec.expect("a ceiling");

    // Beside itself: ratios of 1, and the table shows them.
    let side = SideBySide::new(result.clone(), Some(result));
    let ratios = side.ratios.expect("ratios");
    assert_eq!(ratios.delivery_p99, Some(1.0));
    let expected = (ceiling > 0.0).then_some(1.0);
    assert_eq!(ratios.ceiling, expected, "a ceiling of 0 has no ratio");
    let table = side.table();
    assert!(table.contains("delivery p99 ms"), "{table}");
    assert!(table.contains("1.00x"), "{table}");
    let json = serde_json::to_string(&side).expect("JSON");
    let back: SideBySide = serde_json::from_str(&json).expect("back");
    assert_eq!(back.ratios, side.ratios);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_slots_and_unknown_tokens_are_refused_clearly() {
    let server = Server::start(1, 2).await;

    let error = relay::measure_switchboard(SwitchboardRelay {
        pairs: 5,
        rate: 50.0,
        duration: Duration::from_millis(200),
        ..server.relay(1)
    })
    .await
    .expect_err("1 agent x capacity 2 < 5 pairs");
    assert!(format!("{error:#}").contains("capacit"), "{error:#}");

    let error = relay::measure_switchboard(SwitchboardRelay {
        pairs: 1,
        rate: 50.0,
        duration: Duration::from_millis(200),
        ..server.relay(2)
    })
    .await
    .expect_err("relay-token-1 is not in the roster");
    let message = format!("{error:#}");
    assert!(message.contains("relay-token-1"), "{message}");

    // The agent that did connect was told of nothing left over: a run that
    // fits still works.
    let result = relay::measure_switchboard(SwitchboardRelay {
        pairs: 2,
        rate: 50.0,
        duration: Duration::from_millis(500),
        ..server.relay(1)
    })
    .await
    .expect("2 pairs fit");
    assert_eq!(result.delivered, result.sent);
    assert!(result.sent > 0);

    server.stop().await;
}

#[tokio::test]
async fn what_it_should_not_do_is_refused_before_connecting() {
    let local = "ws://127.0.0.1:9".to_string();
    let good = SwitchboardRelay {
        customer_urls: vec![local.clone()],
        agent_urls: vec![local.clone()],
        agents: relay::roster_tokens(1),
        ..SwitchboardRelay::default()
    };
    let bad = [
        SwitchboardRelay {
            customer_urls: vec!["ws://192.0.2.1:8080".into()],
            ..good.clone()
        },
        SwitchboardRelay {
            agent_urls: vec!["ws://example.com:8080".into()],
            ..good.clone()
        },
        SwitchboardRelay {
            customer_urls: vec!["wss://127.0.0.1:8080".into()],
            ..good.clone()
        },
        SwitchboardRelay {
            customer_urls: Vec::new(),
            ..good.clone()
        },
        SwitchboardRelay {
            agents: Vec::new(),
            ..good.clone()
        },
        SwitchboardRelay {
            pairs: 0,
            ..good.clone()
        },
        SwitchboardRelay {
            rate: f64::NAN,
            ..good.clone()
        },
        SwitchboardRelay {
            duration: Duration::from_secs(3600),
            ..good.clone()
        },
        SwitchboardRelay {
            text_bytes: 5000,
            ..good.clone()
        },
        SwitchboardRelay {
            topic: "Not A Topic".into(),
            ..good.clone()
        },
    ];
    for config in bad {
        let started = Instant::now();
        let error = relay::measure_switchboard(config.clone())
            .await
            .expect_err("refused");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "refused before connecting: {config:?}"
        );
        if config.customer_urls.first() == Some(&"ws://192.0.2.1:8080".to_string()) {
            assert!(format!("{error:#}").contains("loopback"), "{error:#}");
        }
    }
}
