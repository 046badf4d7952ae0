//! Settings, read from the environment or built in code.

use std::net::SocketAddr;
use std::time::Duration;

use crate::amqp::BrokerUrl;
use crate::{Error, Result};

/// How a service listens and what it accepts.
///
/// [`Config::from_env`] reads these variables; each has a default:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `EVENTLY_HTTP_ADDR` | `127.0.0.1:8080` | address of the HTTP listener (port `0` picks a free one) |
/// | `EVENTLY_HTTP_BODY_LIMIT` | `2MiB` | largest request body; larger ones get 413 |
/// | `EVENTLY_HTTP_HEADER_LIMIT` | `16KiB` | largest request head (at least `8KiB`); larger ones get 431 |
/// | `EVENTLY_HTTP_MAX_HEADERS` | `100` | most header fields in a request; more get 431 |
/// | `EVENTLY_HTTP_HEADER_TIMEOUT` | `10s` | time a client has to send its request head |
/// | `EVENTLY_SHUTDOWN_TIMEOUT` | `30s` | time in-flight work gets to finish on shutdown |
/// | `EVENTLY_AMQP_URL` | `memory://` | the broker: `memory://` (in process) or `amqp://user:password@host:port/vhost` |
/// | `EVENTLY_AMQP_PREFETCH` | `100` | unacked messages per consumer, and so handlers running at once |
/// | `EVENTLY_AMQP_RETRY_ATTEMPTS` | `3` | attempts a message gets before it is dead-lettered |
/// | `EVENTLY_AMQP_RETRY_DELAY` | `1s` | pause before a failed message is tried again |
/// | `EVENTLY_AMQP_TIMEOUT` | `5s` | bound on every wait for the broker (connect, confirm, reconnect) |
/// | `EVENTLY_WS_MAX_MESSAGE` | `1MiB` | largest WebSocket message; larger ones close the socket with 1009 |
/// | `EVENTLY_WS_WRITE_BUFFER` | `1MiB` | most bytes queued for a WebSocket client before sends fail |
/// | `EVENTLY_WS_ORIGINS` | (any) | comma-separated origins allowed to open WebSockets, such as `https://example.com` |
/// | `RUST_LOG` | `info,lapin=off` | log filter, in `tracing-subscriber`'s `EnvFilter` syntax |
///
/// Sizes are bytes, or a number with `KiB`, `MiB` or `GiB`. Durations are a
/// number with `ms`, `s` or `m`.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) http_addr: SocketAddr,
    pub(crate) body_limit: usize,
    pub(crate) header_limit: usize,
    pub(crate) max_headers: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) log_filter: String,
    pub(crate) amqp_url: BrokerUrl,
    pub(crate) prefetch: u16,
    pub(crate) retry_attempts: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) broker_timeout: Duration,
    pub(crate) ws_max_message: usize,
    pub(crate) ws_write_buffer: usize,
    pub(crate) ws_origins: Vec<String>,
}

/// lapin's own logs repeat what evently reports in its own words (a lost
/// connection, a returned message), so they stay off unless asked for.
const DEFAULT_LOG_FILTER: &str = "info,lapin=off";

/// hyper refuses a read buffer smaller than this.
const MIN_HEADER_LIMIT: usize = 8 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 2 * 1024 * 1024,
            header_limit: 16 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
            amqp_url: BrokerUrl::Memory,
            prefetch: 100,
            retry_attempts: 3,
            retry_delay: Duration::from_secs(1),
            broker_timeout: Duration::from_secs(5),
            ws_max_message: 1 << 20,
            ws_write_buffer: 1 << 20,
            ws_origins: Vec::new(),
        }
    }
}

impl Config {
    /// Reads the configuration from the environment.
    ///
    /// # Errors
    ///
    /// Fails with every invalid variable at once, each named with its reason.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = Config::default();
        let mut problems = Vec::new();
        let mut read = |name: &str, apply: &mut dyn FnMut(&str) -> Result<(), String>| {
            if let Some(value) = var(name)
                && let Err(reason) = apply(value.trim())
            {
                problems.push(format!("{name}: {reason}"));
            }
        };
        read("EVENTLY_HTTP_ADDR", &mut |v| {
            config.http_addr = v
                .parse()
                .map_err(|_| format!("expected an address such as 127.0.0.1:8080, found {v:?}"))?;
            Ok(())
        });
        read("EVENTLY_HTTP_BODY_LIMIT", &mut |v| {
            config.body_limit = parse_size(v)?;
            Ok(())
        });
        read("EVENTLY_HTTP_HEADER_LIMIT", &mut |v| {
            let size = parse_size(v)?;
            if size < MIN_HEADER_LIMIT {
                return Err(format!("must be at least 8KiB, found {v:?}"));
            }
            config.header_limit = size;
            Ok(())
        });
        read("EVENTLY_HTTP_MAX_HEADERS", &mut |v| {
            config.max_headers = match v.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("expected a positive number, found {v:?}")),
            };
            Ok(())
        });
        read("EVENTLY_HTTP_HEADER_TIMEOUT", &mut |v| {
            config.header_timeout = parse_duration(v)?;
            Ok(())
        });
        read("EVENTLY_SHUTDOWN_TIMEOUT", &mut |v| {
            config.shutdown_timeout = parse_duration(v)?;
            Ok(())
        });
        read("EVENTLY_AMQP_URL", &mut |v| {
            config.amqp_url = BrokerUrl::parse(v)?;
            Ok(())
        });
        read("EVENTLY_AMQP_PREFETCH", &mut |v| {
            config.prefetch = match v.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("expected a number from 1 to 65535, found {v:?}")),
            };
            Ok(())
        });
        read("EVENTLY_AMQP_RETRY_ATTEMPTS", &mut |v| {
            config.retry_attempts = match v.parse() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("expected a positive number, found {v:?}")),
            };
            Ok(())
        });
        read("EVENTLY_AMQP_RETRY_DELAY", &mut |v| {
            config.retry_delay = parse_duration(v)?;
            Ok(())
        });
        read("EVENTLY_AMQP_TIMEOUT", &mut |v| {
            config.broker_timeout = parse_duration(v)?;
            Ok(())
        });
        read("EVENTLY_WS_MAX_MESSAGE", &mut |v| {
            config.ws_max_message = parse_size(v)?;
            Ok(())
        });
        read("EVENTLY_WS_WRITE_BUFFER", &mut |v| {
            config.ws_write_buffer = parse_size(v)?;
            Ok(())
        });
        read("EVENTLY_WS_ORIGINS", &mut |v| {
            config.ws_origins = v
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            Ok(())
        });
        read("RUST_LOG", &mut |v| {
            tracing_subscriber::EnvFilter::try_new(v).map_err(|e| e.to_string())?;
            config.log_filter = v.to_owned();
            Ok(())
        });
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Error::config(problems))
        }
    }

    /// Sets the address of the HTTP listener.
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = addr;
        self
    }

    /// Sets the largest request body accepted, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets the largest request head accepted, in bytes.
    ///
    /// # Panics
    ///
    /// Panics when `bytes` is under 8 KiB, the smallest head buffer hyper
    /// accepts.
    #[track_caller]
    pub fn header_limit(mut self, bytes: usize) -> Self {
        assert!(
            bytes >= MIN_HEADER_LIMIT,
            "the header limit must be at least 8 KiB"
        );
        self.header_limit = bytes;
        self
    }

    /// Sets the most header fields a request may carry.
    pub fn max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets how long a client has to send its request head.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets how long in-flight work gets to finish on shutdown.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets the log filter, in `RUST_LOG` syntax.
    pub fn log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = filter.into();
        self
    }

    /// Sets the broker: `memory://` or an `amqp://` URL.
    ///
    /// # Panics
    ///
    /// Panics when the URL is neither; the message never shows the password.
    #[track_caller]
    pub fn amqp_url(mut self, url: &str) -> Self {
        match BrokerUrl::parse(url) {
            Ok(url) => self.amqp_url = url,
            Err(reason) => panic!("invalid broker URL: {reason}"),
        }
        self
    }

    /// Sets how many unacked messages each consumer takes at once.
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Sets how many attempts a message gets before it is dead-lettered.
    pub fn retry_attempts(mut self, attempts: u32) -> Self {
        self.retry_attempts = attempts.max(1);
        self
    }

    /// Sets the pause before a failed message is tried again.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Sets the bound on every wait for the broker.
    pub fn broker_timeout(mut self, timeout: Duration) -> Self {
        self.broker_timeout = timeout;
        self
    }

    /// Sets the largest WebSocket message accepted, in bytes.
    pub fn ws_max_message(mut self, bytes: usize) -> Self {
        self.ws_max_message = bytes;
        self
    }

    /// Sets the origins allowed to open WebSockets; empty allows any.
    pub fn ws_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.ws_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The address of the HTTP listener.
    pub fn addr(&self) -> SocketAddr {
        self.http_addr
    }
}

fn parse_size(value: &str) -> Result<usize, String> {
    let invalid = || format!("expected a size such as 65536, 64KiB or 2MiB, found {value:?}");
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: usize = number.parse().map_err(|_| invalid())?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.checked_mul(scale).ok_or_else(invalid)
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let invalid = || format!("expected a duration such as 500ms, 10s or 2m, found {value:?}");
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(config.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(config.body_limit, 2 << 20);
    }

    #[test]
    fn settings_are_read() {
        let config = Config::from_vars(vars(&[
            ("EVENTLY_HTTP_ADDR", "0.0.0.0:9000"),
            ("EVENTLY_HTTP_BODY_LIMIT", "64KiB"),
            ("EVENTLY_HTTP_HEADER_TIMEOUT", "500ms"),
            ("EVENTLY_SHUTDOWN_TIMEOUT", "2m"),
        ]))
        .unwrap();
        assert_eq!(config.http_addr.port(), 9000);
        assert_eq!(config.body_limit, 65536);
        assert_eq!(config.header_timeout, Duration::from_millis(500));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(120));
    }

    #[test]
    fn every_invalid_setting_is_reported_at_once() {
        let error = Config::from_vars(vars(&[
            ("EVENTLY_HTTP_ADDR", "localhost"),
            ("EVENTLY_HTTP_BODY_LIMIT", "lots"),
            ("EVENTLY_HTTP_HEADER_LIMIT", "1KiB"),
            ("EVENTLY_HTTP_HEADER_TIMEOUT", "10"),
            ("RUST_LOG", "evently=loud"),
            ("EVENTLY_AMQP_URL", "amqp://guest:hunter2@host:port"),
            ("EVENTLY_AMQP_PREFETCH", "0"),
        ]))
        .unwrap_err();
        assert!(error.is_config());
        let message = error.to_string();
        for name in [
            "EVENTLY_HTTP_ADDR",
            "EVENTLY_HTTP_BODY_LIMIT",
            "EVENTLY_HTTP_HEADER_LIMIT",
            "EVENTLY_HTTP_HEADER_TIMEOUT",
            "RUST_LOG",
            "EVENTLY_AMQP_URL",
            "EVENTLY_AMQP_PREFETCH",
        ] {
            assert!(message.contains(name), "{name} missing from: {message}");
        }
        assert!(
            !message.contains("hunter2"),
            "the password leaked: {message}"
        );
    }
}
