use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use bytes::Bytes;
use tokio::time::timeout;

use super::*;

/// Long enough for a woken task to run, short enough to keep tests quick.
const PENDING: Duration = Duration::from_millis(50);

fn message(text: &str) -> Envelope {
    Envelope {
        payload: Bytes::copy_from_slice(text.as_bytes()),
        message_id: Some(text.to_owned()),
        ..Envelope::default()
    }
}

fn texts(envelopes: &[Envelope]) -> Vec<&str> {
    envelopes
        .iter()
        .map(|e| std::str::from_utf8(&e.payload).unwrap())
        .collect()
}

fn text(delivery: &MemoryDelivery) -> &str {
    std::str::from_utf8(&delivery.envelope.payload).unwrap()
}

fn broker_with(queues: &[&str]) -> MemoryBroker {
    let broker = MemoryBroker::new();
    for queue in queues {
        broker.declare_queue(queue);
    }
    broker
}

async fn next(consumer: &mut MemoryConsumer) -> MemoryDelivery {
    timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("a delivery in time")
        .expect("a live consumer")
}

async fn is_pending(consumer: &mut MemoryConsumer) -> bool {
    timeout(PENDING, consumer.next()).await.is_err()
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>(_: &T) {}
    send_sync::<MemoryBroker>();
    send_sync::<MemoryConsumer>();
    send_sync::<MemoryDelivery>();
    send_sync::<MemoryAcker>();
    send_sync::<MemoryError>();

    let broker = broker_with(&["q"]);
    let mut consumer = broker.consume("q", 1).unwrap();
    let future = async move { consumer.next().await.is_some() };
    send(&future);
}

#[test]
fn errors_read_as_short_lowercase_sentences() {
    let unroutable = MemoryError::Unroutable {
        exchange: "events".into(),
        routing_key: "a.b".into(),
    };
    assert_eq!(
        unroutable.to_string(),
        "exchange `events` routes `a.b` to no queue"
    );
    let default = MemoryError::Unroutable {
        exchange: String::new(),
        routing_key: "jobs".into(),
    };
    assert_eq!(default.to_string(), "no queue named `jobs`");
    assert_eq!(MemoryError::ChannelClosed.to_string(), "channel closed");
    assert_eq!(
        MemoryError::UnknownQueue("q".into()).to_string(),
        "no queue named `q`"
    );
}

#[test]
fn default_exchange_routes_to_the_queue_named_by_the_key() {
    let broker = broker_with(&["a", "b"]);
    broker.publish("", "a", message("1")).unwrap();
    assert_eq!(broker.ready_count("a"), Some(1));
    assert_eq!(broker.ready_count("b"), Some(0));
    assert_eq!(broker.ready_count("c"), None);
    assert_eq!(texts(&broker.drain("a")), ["1"]);
    assert_eq!(broker.ready_count("a"), Some(0));
}

#[test]
fn direct_exchange_matches_the_exact_key() {
    let broker = broker_with(&["errors", "all"]);
    broker
        .declare_exchange("logs", ExchangeKind::Direct)
        .unwrap();
    broker.bind("errors", "logs", "error").unwrap();
    broker.bind("all", "logs", "error").unwrap();
    broker.bind("all", "logs", "info").unwrap();

    broker.publish("logs", "error", message("e")).unwrap();
    broker.publish("logs", "info", message("i")).unwrap();
    assert_eq!(
        broker.publish("logs", "error.x", message("x")),
        Err(MemoryError::Unroutable {
            exchange: "logs".into(),
            routing_key: "error.x".into()
        })
    );
    assert_eq!(texts(&broker.drain("errors")), ["e"]);
    assert_eq!(texts(&broker.drain("all")), ["e", "i"]);
}

#[test]
fn fanout_exchange_ignores_keys() {
    let broker = broker_with(&["a", "b"]);
    broker
        .declare_exchange("news", ExchangeKind::Fanout)
        .unwrap();
    broker.bind("a", "news", "").unwrap();
    broker.bind("b", "news", "ignored").unwrap();

    broker.publish("news", "whatever", message("1")).unwrap();
    broker.publish("news", "", message("2")).unwrap();
    assert_eq!(texts(&broker.drain("a")), ["1", "2"]);
    assert_eq!(texts(&broker.drain("b")), ["1", "2"]);
}

#[test]
fn topic_exchange_matches_patterns() {
    let broker = broker_with(&["star", "hash", "tail", "middle", "all"]);
    broker.declare_exchange("t", ExchangeKind::Topic).unwrap();
    broker.bind("star", "t", "*.b").unwrap();
    broker.bind("hash", "t", "#.b").unwrap();
    broker.bind("tail", "t", "a.#").unwrap();
    broker.bind("middle", "t", "a.#.c").unwrap();
    broker.bind("all", "t", "#").unwrap();

    for key in ["b", "a", "a.b", "a.c", "x.y.b", ""] {
        broker.publish("t", key, message(key)).unwrap();
    }
    assert_eq!(texts(&broker.drain("star")), ["a.b"]);
    assert_eq!(texts(&broker.drain("hash")), ["b", "a.b", "x.y.b"]);
    assert_eq!(texts(&broker.drain("tail")), ["a", "a.b", "a.c"]);
    assert_eq!(texts(&broker.drain("middle")), ["a.c"]);
    assert_eq!(
        texts(&broker.drain("all")),
        ["b", "a", "a.b", "a.c", "x.y.b", ""]
    );
}

#[test]
fn a_queue_bound_under_two_matching_keys_gets_one_copy() {
    let broker = broker_with(&["q"]);
    broker.declare_exchange("t", ExchangeKind::Topic).unwrap();
    broker.bind("q", "t", "a.*").unwrap();
    broker.bind("q", "t", "#").unwrap();
    broker.publish("t", "a.b", message("1")).unwrap();
    assert_eq!(broker.ready_count("q"), Some(1));
}

#[test]
fn publishing_to_no_queue_or_no_exchange_fails() {
    let broker = broker_with(&["q"]);
    assert_eq!(
        broker.publish("", "missing", message("1")),
        Err(MemoryError::Unroutable {
            exchange: String::new(),
            routing_key: "missing".into()
        })
    );
    assert_eq!(
        broker.publish("missing", "q", message("1")),
        Err(MemoryError::NoExchange("missing".into()))
    );
    broker
        .declare_exchange("lonely", ExchangeKind::Fanout)
        .unwrap();
    assert!(matches!(
        broker.publish("lonely", "q", message("1")),
        Err(MemoryError::Unroutable { .. })
    ));
    assert_eq!(broker.ready_count("q"), Some(0));
}

#[test]
fn declarations_are_idempotent_but_kinds_must_agree() {
    let broker = broker_with(&["q"]);
    broker.publish("", "q", message("1")).unwrap();
    broker.declare_queue("q");
    assert_eq!(broker.ready_count("q"), Some(1));

    broker.declare_exchange("x", ExchangeKind::Topic).unwrap();
    broker.bind("q", "x", "a").unwrap();
    broker.declare_exchange("x", ExchangeKind::Topic).unwrap();
    assert_eq!(
        broker.declare_exchange("x", ExchangeKind::Fanout),
        Err(MemoryError::ExchangeKindMismatch("x".into()))
    );
    broker.publish("x", "a", message("2")).unwrap();
    assert_eq!(broker.ready_count("q"), Some(2));

    broker.declare_exchange("", ExchangeKind::Direct).unwrap();
    assert!(broker.declare_exchange("", ExchangeKind::Topic).is_err());
}

#[test]
fn binding_needs_a_known_queue_and_exchange() {
    let broker = broker_with(&["q"]);
    broker.declare_exchange("x", ExchangeKind::Direct).unwrap();
    assert_eq!(
        broker.bind("missing", "x", "k"),
        Err(MemoryError::UnknownQueue("missing".into()))
    );
    assert_eq!(
        broker.bind("q", "missing", "k"),
        Err(MemoryError::NoExchange("missing".into()))
    );
    assert!(broker.bind("q", "", "k").is_err());
}

#[tokio::test]
async fn consuming_needs_a_known_queue() {
    let broker = MemoryBroker::new();
    assert!(matches!(
        broker.consume("missing", 1),
        Err(MemoryError::UnknownQueue(queue)) if queue == "missing"
    ));
}

#[tokio::test]
async fn acked_messages_are_gone() {
    let broker = broker_with(&["q"]);
    broker.publish("", "q", message("1")).unwrap();
    let mut consumer = broker.consume("q", 10).unwrap();
    let delivery = next(&mut consumer).await;
    assert_eq!(text(&delivery), "1");
    assert_eq!(delivery.envelope.message_id.as_deref(), Some("1"));
    assert!(!delivery.redelivered);
    assert_eq!(broker.ready_count("q"), Some(0));

    delivery.acker.ack().unwrap();
    drop(consumer);
    assert_eq!(broker.ready_count("q"), Some(0));
}

#[tokio::test]
async fn prefetch_bounds_unacked_deliveries() {
    let broker = broker_with(&["q"]);
    for n in 1..=3 {
        broker.publish("", "q", message(&n.to_string())).unwrap();
    }
    let mut consumer = broker.consume("q", 2).unwrap();
    let first = next(&mut consumer).await;
    let second = next(&mut consumer).await;
    assert!(is_pending(&mut consumer).await);
    assert_eq!(broker.ready_count("q"), Some(1));

    // An ack from another task wakes the consumer waiting for room.
    let waiting = tokio::spawn(async move {
        let third = next(&mut consumer).await;
        (text(&third).to_owned(), consumer)
    });
    tokio::time::sleep(PENDING).await;
    assert!(!waiting.is_finished());
    first.acker.ack().unwrap();
    let (third, _consumer) = waiting.await.unwrap();
    assert_eq!(third, "3");
    second.acker.ack().unwrap();
}

#[tokio::test]
async fn a_waiting_consumer_wakes_on_publish() {
    let broker = broker_with(&["q"]);
    let mut consumer = broker.consume("q", 1).unwrap();
    assert!(is_pending(&mut consumer).await);
    let waiting = tokio::spawn(async move { text(&next(&mut consumer).await).to_owned() });
    tokio::time::sleep(PENDING).await;
    broker.publish("", "q", message("late")).unwrap();
    assert_eq!(waiting.await.unwrap(), "late");
}

#[tokio::test]
async fn nack_with_requeue_redelivers_first() {
    let broker = broker_with(&["q"]);
    for n in 1..=3 {
        broker.publish("", "q", message(&n.to_string())).unwrap();
    }
    let mut consumer = broker.consume("q", 5).unwrap();
    let first = next(&mut consumer).await;
    first.acker.nack(true).unwrap();

    let again = next(&mut consumer).await;
    assert_eq!(text(&again), "1");
    assert!(again.redelivered);
    let second = next(&mut consumer).await;
    assert_eq!(text(&second), "2");
    assert!(!second.redelivered);
}

#[tokio::test]
async fn nack_without_requeue_discards() {
    let broker = broker_with(&["q"]);
    broker.publish("", "q", message("1")).unwrap();
    let mut consumer = broker.consume("q", 1).unwrap();
    next(&mut consumer).await.acker.nack(false).unwrap();
    assert!(is_pending(&mut consumer).await);
    drop(consumer);
    assert_eq!(broker.ready_count("q"), Some(0));
}

#[tokio::test]
async fn dropping_a_consumer_requeues_its_unacked_deliveries_in_order() {
    let broker = broker_with(&["q"]);
    for n in 1..=5 {
        broker.publish("", "q", message(&n.to_string())).unwrap();
    }
    let mut consumer = broker.consume("q", 3).unwrap();
    let one = next(&mut consumer).await;
    let two = next(&mut consumer).await;
    let three = next(&mut consumer).await;
    two.acker.ack().unwrap();
    // An acker dropped unsettled leaves its message unacked.
    drop(one);
    assert_eq!(broker.ready_count("q"), Some(2));

    drop(consumer);
    assert_eq!(broker.ready_count("q"), Some(4));
    let mut consumer = broker.consume("q", 10).unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let delivery = next(&mut consumer).await;
        seen.push((text(&delivery).to_owned(), delivery.redelivered));
    }
    let expected = [("1", true), ("3", true), ("4", false), ("5", false)];
    assert_eq!(seen, expected.map(|(t, r)| (t.to_owned(), r)));

    // The old channel is closed: its deliveries can no longer be settled.
    assert_eq!(three.acker.ack(), Err(MemoryError::ChannelClosed));
    assert_eq!(broker.ready_count("q"), Some(0));
}

#[tokio::test]
async fn settling_after_the_consumer_dropped_fails_and_changes_nothing() {
    let broker = broker_with(&["q"]);
    broker.publish("", "q", message("1")).unwrap();
    broker.publish("", "q", message("2")).unwrap();
    let mut consumer = broker.consume("q", 2).unwrap();
    let first = next(&mut consumer).await;
    let second = next(&mut consumer).await;
    drop(consumer);

    assert_eq!(first.acker.ack(), Err(MemoryError::ChannelClosed));
    assert_eq!(second.acker.nack(false), Err(MemoryError::ChannelClosed));
    assert_eq!(texts(&broker.drain("q")), ["1", "2"]);
}

#[tokio::test]
async fn dropping_the_consumer_of_an_exclusive_queue_deletes_it() {
    let broker = MemoryBroker::new();
    let queue = broker.declare_exclusive_queue();
    let other = broker.declare_exclusive_queue();
    assert_ne!(queue, other);
    assert!(queue.starts_with("amq.gen-"));
    broker
        .declare_exchange("news", ExchangeKind::Fanout)
        .unwrap();
    broker.bind(&queue, "news", "").unwrap();

    broker.publish("news", "", message("1")).unwrap();
    broker.publish("news", "", message("2")).unwrap();
    let mut consumer = broker.consume(&queue, 1).unwrap();
    let delivery = next(&mut consumer).await;
    assert_eq!(text(&delivery), "1");
    drop(consumer);

    assert_eq!(broker.ready_count(&queue), None);
    assert_eq!(delivery.acker.ack(), Err(MemoryError::ChannelClosed));
    assert!(matches!(
        broker.publish("news", "", message("3")),
        Err(MemoryError::Unroutable { .. })
    ));
    assert!(matches!(
        broker.consume(&queue, 1),
        Err(MemoryError::UnknownQueue(_))
    ));
    // One never consumed stays.
    assert_eq!(broker.ready_count(&other), Some(0));
}

#[tokio::test]
async fn competing_consumers_share_the_work() {
    let broker = broker_with(&["q"]);
    let mut a = broker.consume("q", 1).unwrap();
    let mut b = broker.consume("q", 1).unwrap();
    for n in 1..=4 {
        broker.publish("", "q", message(&n.to_string())).unwrap();
    }

    let a1 = next(&mut a).await;
    let b1 = next(&mut b).await;
    assert!(is_pending(&mut a).await);
    assert!(is_pending(&mut b).await);
    let mut all = vec![text(&a1).to_owned(), text(&b1).to_owned()];
    a1.acker.ack().unwrap();
    b1.acker.ack().unwrap();
    let a2 = next(&mut a).await;
    let b2 = next(&mut b).await;
    all.extend([text(&a2).to_owned(), text(&b2).to_owned()]);
    all.sort();
    assert_eq!(all, ["1", "2", "3", "4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_consumers_are_served_in_turn() {
    let broker = broker_with(&["q"]);
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let mut consumer = broker.consume("q", 1).unwrap();
        tasks.push(tokio::spawn(async move {
            let mut count = 0;
            while let Some(delivery) = consumer.next().await {
                delivery.acker.ack().unwrap();
                count += 1;
                // Busy with the message: the others get the next ones.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            count
        }));
    }
    tokio::time::sleep(PENDING).await;
    for n in 0..30 {
        broker.publish("", "q", message(&n.to_string())).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    while broker.ready_count("q") != Some(0) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(PENDING).await;
    broker.close();

    let mut counts = Vec::new();
    for task in tasks {
        counts.push(
            timeout(Duration::from_secs(5), task)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(counts.iter().sum::<usize>(), 30);
    assert!(counts.iter().all(|&c| c >= 3), "unfair share: {counts:?}");
}

#[tokio::test]
async fn dropping_a_waiting_next_loses_nothing() {
    let broker = broker_with(&["q"]);
    let mut a = broker.consume("q", 1).unwrap();
    let mut b = broker.consume("q", 1).unwrap();

    // `a` waits first, so the publish wakes `a`; its `next` is then dropped
    // before it runs, and the wake-up must pass on to `b`.
    let mut a_next = Box::pin(a.next());
    let first_poll = std::future::poll_fn(|cx| Poll::Ready(a_next.as_mut().poll(cx))).await;
    assert!(first_poll.is_pending());
    let b_next = tokio::spawn(async move {
        let delivery = next(&mut b).await;
        let text = text(&delivery).to_owned();
        delivery.acker.ack().unwrap();
        text
    });
    tokio::time::sleep(PENDING).await;
    broker.publish("", "q", message("1")).unwrap();
    drop(a_next);
    assert_eq!(timeout(PENDING * 20, b_next).await.unwrap().unwrap(), "1");

    broker.publish("", "q", message("2")).unwrap();
    assert_eq!(text(&next(&mut a).await), "2");
}

#[tokio::test]
async fn cancel_ends_deliveries_but_not_settling() {
    let broker = broker_with(&["q"]);
    broker.publish("", "q", message("1")).unwrap();
    broker.publish("", "q", message("2")).unwrap();
    let mut consumer = broker.consume("q", 5).unwrap();
    let delivery = next(&mut consumer).await;

    consumer.cancel();
    assert!(consumer.next().await.is_none());
    delivery.acker.ack().unwrap();
    assert_eq!(broker.ready_count("q"), Some(1));
    drop(consumer);
    assert_eq!(texts(&broker.drain("q")), ["2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_every_consumer() {
    let broker = broker_with(&["q", "r"]);
    broker.publish("", "r", message("1")).unwrap();
    let mut waiting = broker.consume("q", 1).unwrap();
    let mut busy = broker.consume("r", 1).unwrap();
    let delivery = next(&mut busy).await;
    let waiting = tokio::spawn(async move { waiting.next().await.is_none() });
    tokio::time::sleep(PENDING).await;

    broker.close();
    assert!(timeout(PENDING * 20, waiting).await.unwrap().unwrap());
    assert!(busy.next().await.is_none());
    assert_eq!(
        broker.consume("q", 1).err(),
        Some(MemoryError::ChannelClosed)
    );

    // In-flight work can still finish.
    delivery.acker.ack().unwrap();
    broker.publish("", "q", message("2")).unwrap();
    assert_eq!(broker.ready_count("q"), Some(1));
}

/// Competing consumers on two threads that nack, drop `next` calls and
/// drop themselves: every message is still acked exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_lose_nothing() {
    const COUNT: usize = 20_000;
    let broker = broker_with(&["q"]);
    let acked = Arc::new(Mutex::new(std::collections::HashSet::new()));

    let mut tasks = Vec::new();
    for worker in 0..4 {
        let broker = broker.clone();
        let acked = Arc::clone(&acked);
        tasks.push(tokio::spawn(async move {
            let mut consumer = broker.consume("q", 1 + worker).unwrap();
            let mut turn = 0_u32;
            loop {
                turn += 1;
                let delivery = if turn.is_multiple_of(3) {
                    consumer.next().await
                } else {
                    tokio::select! {
                        biased;
                        delivery = consumer.next() => delivery,
                        () = tokio::task::yield_now() => continue,
                    }
                };
                let Some(delivery) = delivery else {
                    return;
                };
                if turn.is_multiple_of(500) {
                    // Close the channel with this delivery unacked.
                    drop(consumer);
                    assert_eq!(delivery.acker.ack(), Err(MemoryError::ChannelClosed));
                    match broker.consume("q", 1 + worker) {
                        Ok(fresh) => consumer = fresh,
                        Err(_) => return,
                    }
                } else if turn.is_multiple_of(7) && !delivery.redelivered {
                    delivery.acker.nack(true).unwrap();
                } else {
                    let id = delivery.envelope.message_id.clone().unwrap();
                    delivery.acker.ack().unwrap();
                    assert!(acked.lock().unwrap().insert(id), "acked twice");
                }
            }
        }));
    }
    for half in 0..2 {
        let broker = broker.clone();
        tokio::spawn(async move {
            for n in (half..COUNT).step_by(2) {
                broker.publish("", "q", message(&n.to_string())).unwrap();
                if n.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
        });
    }

    let done = async {
        while acked.lock().unwrap().len() < COUNT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    timeout(Duration::from_secs(30), done)
        .await
        .expect("every message acked");
    broker.close();
    for task in tasks {
        timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(broker.ready_count("q"), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_flow_quickly() {
    const COUNT: usize = 100_000;
    let broker = broker_with(&["q"]);
    let mut consumer = broker.consume("q", 100).unwrap();
    let started = Instant::now();

    let publisher = {
        let broker = broker.clone();
        tokio::spawn(async move {
            let envelope = message("payload");
            for n in 0..COUNT {
                broker.publish("", "q", envelope.clone()).unwrap();
                if n.is_multiple_of(1024) {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let consumed = tokio::spawn(async move {
        let mut count = 0;
        while count < COUNT {
            let delivery = consumer.next().await.unwrap();
            delivery.acker.ack().unwrap();
            count += 1;
        }
        count
    });

    let count = timeout(Duration::from_secs(20), consumed)
        .await
        .unwrap()
        .unwrap();
    publisher.await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(count, COUNT);
    assert_eq!(broker.ready_count("q"), Some(0));
    println!(
        "{COUNT} messages in {elapsed:?} ({:.0} msgs/s)",
        COUNT as f64 / elapsed.as_secs_f64()
    );
}
