//! What a service has done, counted for Prometheus at `GET /_evently/metrics`.
//!
//! Every counter is an atomic that the request or message path bumps with
//! relaxed ordering; nothing is locked on those paths. The registry is
//! locked only when a route or consumer is added, at startup, and when the
//! page is rendered.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::amqp::Broker;
use crate::ws::Hub;

/// Upper bounds of the request-duration histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The counters of one service.
pub(crate) struct Metrics {
    routes: Mutex<Vec<Arc<RouteStats>>>,
    consumers: Mutex<Vec<Arc<ConsumerStats>>>,
    hub: Arc<Hub>,
    broker: Option<Broker>,
}

/// Requests answered on one route.
pub(crate) struct RouteStats {
    method: &'static str,
    route: &'static str,
    /// By status class: 1xx to 5xx.
    statuses: [AtomicU64; 5],
    /// Requests by the first bucket whose bound their duration is within;
    /// the last slot holds the slower ones.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    micros: AtomicU64,
}

/// Messages taken by one consumer, and what became of them.
pub(crate) struct ConsumerStats {
    source: String,
    /// Taken from the broker.
    pub(crate) consumed: AtomicU64,
    /// Handled, and acked.
    pub(crate) acked: AtomicU64,
    /// Failed, and put back in line for another attempt.
    pub(crate) retried: AtomicU64,
    /// Failed for the last time, or undecodable: dead-lettered.
    pub(crate) dead_lettered: AtomicU64,
    /// Handed back to the broker because their fate could not be recorded.
    pub(crate) requeued: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(hub: Arc<Hub>, broker: Option<Broker>) -> Arc<Self> {
        Arc::new(Metrics {
            routes: Mutex::default(),
            consumers: Mutex::default(),
            hub,
            broker,
        })
    }

    /// The counters of a route; requests no route matches count under the
    /// route `""`.
    pub(crate) fn route(&self, method: &'static str, route: &'static str) -> Arc<RouteStats> {
        let stats = Arc::new(RouteStats {
            method,
            route,
            statuses: Default::default(),
            buckets: Default::default(),
            micros: AtomicU64::new(0),
        });
        lock(&self.routes).push(Arc::clone(&stats));
        stats
    }

    /// The counters of a consumer of `source`: a queue's name, or a
    /// subscription's description.
    pub(crate) fn consumer(&self, source: String) -> Arc<ConsumerStats> {
        let stats = Arc::new(ConsumerStats {
            source,
            consumed: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            requeued: AtomicU64::new(0),
        });
        lock(&self.consumers).push(Arc::clone(&stats));
        stats
    }

    /// The page, in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut page = String::with_capacity(4096);
        let routes = lock(&self.routes).clone();
        let consumers = lock(&self.consumers).clone();

        header(
            &mut page,
            "evently_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status class.",
        );
        for stats in &routes {
            for (class, count) in stats.statuses.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        page,
                        "evently_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}xx\"}} {count}",
                        stats.method,
                        escape(stats.route),
                        class + 1,
                    );
                }
            }
        }

        header(
            &mut page,
            "evently_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its response head, by route.",
        );
        for stats in &routes {
            let labels = format!(
                "method=\"{}\",route=\"{}\"",
                stats.method,
                escape(stats.route)
            );
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&stats.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    page,
                    "evently_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += stats.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let seconds = stats.micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                page,
                "evently_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}\n\
                 evently_http_request_duration_seconds_sum{{{labels}}} {seconds}\n\
                 evently_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }

        header(
            &mut page,
            "evently_amqp_messages_total",
            "counter",
            "Messages consumed, and what became of them, by source.",
        );
        for stats in &consumers {
            let source = escape(&stats.source);
            for (outcome, count) in [
                ("consumed", &stats.consumed),
                ("acked", &stats.acked),
                ("retried", &stats.retried),
                ("dead_lettered", &stats.dead_lettered),
                ("requeued", &stats.requeued),
            ] {
                let count = count.load(Ordering::Relaxed);
                let _ = writeln!(
                    page,
                    "evently_amqp_messages_total{{source=\"{source}\",outcome=\"{outcome}\"}} {count}"
                );
            }
        }

        if let Some(broker) = &self.broker {
            header(
                &mut page,
                "evently_amqp_connected",
                "gauge",
                "1 while the service is connected to its broker.",
            );
            let _ = writeln!(
                page,
                "evently_amqp_connected {}",
                u8::from(broker.is_ready())
            );
            header(
                &mut page,
                "evently_amqp_connections_total",
                "counter",
                "Connections made to the broker: more than one means it reconnected.",
            );
            let _ = writeln!(
                page,
                "evently_amqp_connections_total {}",
                broker.connections()
            );
        }

        header(
            &mut page,
            "evently_ws_sessions_open",
            "gauge",
            "WebSocket sessions open now.",
        );
        let _ = writeln!(page, "evently_ws_sessions_open {}", self.hub.open());
        header(
            &mut page,
            "evently_ws_sessions_total",
            "counter",
            "WebSocket sessions opened.",
        );
        let _ = writeln!(page, "evently_ws_sessions_total {}", self.hub.opened());
        page
    }
}

impl RouteStats {
    /// Counts one answer with `status`, after `elapsed`.
    pub(crate) fn record(&self, status: http::StatusCode, elapsed: Duration) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.statuses[class].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }
}

impl ConsumerStats {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn header(page: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(page, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a "b" \c"#), r#"a \"b\" \\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        let (_, triggered) = tokio::sync::watch::channel(false);
        let hub = Hub::new(&crate::Config::default(), triggered);
        let metrics = Metrics::new(hub, None);
        let stats = metrics.route("GET", "/x");
        stats.record(http::StatusCode::OK, Duration::from_micros(300));
        stats.record(http::StatusCode::NOT_FOUND, Duration::from_millis(3));
        stats.record(http::StatusCode::OK, Duration::from_secs(9));
        let page = metrics.render();
        let line = |needle: &str| {
            page.lines()
                .find(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{page}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        let labels = r#"method="GET",route="/x""#;
        assert_eq!(
            line(&format!(
                "evently_http_requests_total{{{labels},status=\"2xx\"}}"
            )),
            "2"
        );
        assert_eq!(
            line(&format!(
                "evently_http_requests_total{{{labels},status=\"4xx\"}}"
            )),
            "1"
        );
        let bucket = |le: &str| {
            line(&format!(
                "evently_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}"
            ))
        };
        assert_eq!(bucket("0.0005"), "1");
        assert_eq!(bucket("0.0025"), "1");
        assert_eq!(bucket("0.005"), "2");
        assert_eq!(bucket("5"), "2");
        assert_eq!(bucket("+Inf"), "3");
        assert_eq!(
            line(&format!(
                "evently_http_request_duration_seconds_count{{{labels}}}"
            )),
            "3"
        );
    }
}
