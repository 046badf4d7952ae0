//! The declared topology, as data: what startup logs and docs are made of.

use std::fmt;

/// Every binding of an `evently!` block, in declaration order.
///
/// Each generated `App` has one as `App::TOPOLOGY`.
#[derive(Clone, Copy, Debug)]
pub struct Topology {
    bindings: &'static [Binding],
}

/// One binding: an entry and the handler it starts.
#[derive(Debug)]
pub struct Binding {
    protocol: Protocol,
    method: &'static str,
    path: &'static str,
    handler: &'static str,
}

/// The protocol of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `http`: pages and text.
    Http,
    /// `rest`: typed JSON.
    Rest,
}

impl Topology {
    pub(crate) const fn new(bindings: &'static [Binding]) -> Self {
        Topology { bindings }
    }

    /// The bindings, in declaration order.
    pub fn bindings(&self) -> &'static [Binding] {
        self.bindings
    }
}

impl fmt::Display for Topology {
    /// A one-line summary, such as `1 http route, 2 rest routes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for protocol in [Protocol::Http, Protocol::Rest] {
            let count = self
                .bindings
                .iter()
                .filter(|b| b.protocol == protocol)
                .count();
            if count == 0 {
                continue;
            }
            let plural = if count == 1 { "" } else { "s" };
            let separator = if first { "" } else { ", " };
            write!(f, "{separator}{count} {protocol} route{plural}")?;
            first = false;
        }
        if first {
            f.write_str("no bindings")?;
        }
        Ok(())
    }
}

impl Binding {
    pub(crate) const fn http(
        protocol: Protocol,
        method: &'static str,
        path: &'static str,
        handler: &'static str,
    ) -> Self {
        Binding {
            protocol,
            method,
            path,
            handler,
        }
    }

    /// The protocol of the entry.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The HTTP method, such as `GET`.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The path template, such as `/users/{id}`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The handler's path as written in the block.
    pub fn handler(&self) -> &'static str {
        self.handler
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Http => "http",
            Protocol::Rest => "rest",
        })
    }
}
