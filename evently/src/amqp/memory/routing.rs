//! Exchanges and their bindings: which queues a routing key reaches.

use crate::amqp::envelope::ExchangeKind;

/// A declared exchange with the bindings made to it.
pub(super) struct Exchange {
    pub(super) kind: ExchangeKind,
    bindings: Vec<Binding>,
}

struct Binding {
    queue: String,
    key: String,
    /// The key split into words, kept only by topic exchanges.
    pattern: Vec<Word>,
}

/// One dot-separated word of a topic binding key.
#[derive(Debug, PartialEq)]
enum Word {
    Literal(String),
    /// `*`: exactly one word.
    One,
    /// `#`: zero or more words.
    Any,
}

impl Exchange {
    pub(super) fn new(kind: ExchangeKind) -> Self {
        Exchange {
            kind,
            bindings: Vec::new(),
        }
    }

    /// Binds `queue` with `key`; binding the same pair again changes nothing.
    pub(super) fn bind(&mut self, queue: &str, key: &str) {
        let known = self
            .bindings
            .iter()
            .any(|b| b.queue == queue && b.key == key);
        if known {
            return;
        }
        let pattern = match self.kind {
            ExchangeKind::Topic => compile(key),
            ExchangeKind::Direct | ExchangeKind::Fanout => Vec::new(),
        };
        self.bindings.push(Binding {
            queue: queue.to_owned(),
            key: key.to_owned(),
            pattern,
        });
    }

    /// Forgets every binding of a deleted queue.
    pub(super) fn unbind_queue(&mut self, queue: &str) {
        self.bindings.retain(|b| b.queue != queue);
    }

    /// Pushes the name of every queue `routing_key` reaches, once each.
    pub(super) fn route<'a>(&'a self, routing_key: &str, queues: &mut Vec<&'a str>) {
        match self.kind {
            ExchangeKind::Fanout => queues.extend(self.bindings.iter().map(|b| b.queue.as_str())),
            ExchangeKind::Direct => queues.extend(
                self.bindings
                    .iter()
                    .filter(|b| b.key == routing_key)
                    .map(|b| b.queue.as_str()),
            ),
            ExchangeKind::Topic => {
                let words: Vec<&str> = words(routing_key).collect();
                queues.extend(
                    self.bindings
                        .iter()
                        .filter(|b| matches(&b.pattern, &words))
                        .map(|b| b.queue.as_str()),
                );
            }
        }

        // A queue bound under several matching keys still gets one copy.
        if queues.len() > 1 {
            queues.sort_unstable();
            queues.dedup();
        }
    }
}

/// A key's words. The empty key has none (not one empty word), as in
/// RabbitMQ: `#` matches it and `*` does not.
fn words(key: &str) -> impl Iterator<Item = &str> {
    let empty = key.is_empty();
    key.split('.').filter(move |_| !empty)
}

fn compile(key: &str) -> Vec<Word> {
    words(key)
        .map(|word| match word {
            "*" => Word::One,
            "#" => Word::Any,
            literal => Word::Literal(literal.to_owned()),
        })
        .collect()
}

/// Whether a topic pattern matches a routing key's words.
///
/// `#` behaves like a glob's `*` over words and `*` like its `?`, so the
/// usual greedy walk applies: on a mismatch, go back to the last `#` and
/// let it swallow one more word. That is linear for the keys met in
/// practice and never worse than the product of both lengths.
fn matches(pattern: &[Word], words: &[&str]) -> bool {
    let (mut p, mut w) = (0, 0);
    let mut last_any: Option<(usize, usize)> = None;
    while w < words.len() {
        match pattern.get(p) {
            Some(Word::Any) => {
                last_any = Some((p, w));
                p += 1;
                continue;
            }
            Some(Word::One) => {
                p += 1;
                w += 1;
                continue;
            }
            Some(Word::Literal(literal)) if literal == words[w] => {
                p += 1;
                w += 1;
                continue;
            }
            _ => {}
        }
        let Some((any, swallowed)) = last_any else {
            return false;
        };
        last_any = Some((any, swallowed + 1));
        p = any + 1;
        w = swallowed + 1;
    }
    pattern[p..].iter().all(|word| *word == Word::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(pattern: &str, key: &str) -> bool {
        let words: Vec<&str> = words(key).collect();
        matches(&compile(pattern), &words)
    }

    #[test]
    fn literal_words_match_exactly() {
        assert!(topic("a.b", "a.b"));
        assert!(!topic("a.b", "a.b.c"));
        assert!(!topic("a.b", "a"));
        assert!(!topic("a.b", "a.bb"));
        assert!(topic("", ""));
        assert!(!topic("", "a"));
        assert!(!topic("a", ""));
        assert!(topic("a..b", "a..b"));
        assert!(!topic("a.b", "a..b"));
    }

    #[test]
    fn star_is_exactly_one_word() {
        assert!(topic("*", "a"));
        assert!(!topic("*", "a.b"));
        assert!(topic("*.b", "a.b"));
        assert!(!topic("*.b", "b"));
        assert!(!topic("*.b", "a.a.b"));
        assert!(topic("a.*.c", "a.b.c"));
        assert!(!topic("a.*.c", "a.c"));
        assert!(topic("*.*", "a.b"));
        assert!(!topic("*.*", "a"));
        assert!(!topic("*", ""));
        assert!(topic("a.*", "a."));
    }

    #[test]
    fn hash_is_zero_or_more_words() {
        assert!(topic("#", ""));
        assert!(topic("#", "a"));
        assert!(topic("#", "a.b.c"));
        assert!(topic("a.#", "a"));
        assert!(topic("a.#", "a.b.c"));
        assert!(!topic("a.#", "b.a"));
        assert!(topic("#.a", "a"));
        assert!(topic("#.a", "x.y.a"));
        assert!(!topic("#.a", "a.x"));
        assert!(topic("a.#.c", "a.c"));
        assert!(topic("a.#.c", "a.x.y.c"));
        assert!(topic("a.#.c", "a.c.c"));
        assert!(!topic("a.#.c", "a.c.x"));
        assert!(topic("#.#", "a"));
        assert!(topic("#.#", ""));
    }

    #[test]
    fn star_and_hash_combine() {
        assert!(topic("#.*", "a"));
        assert!(!topic("#.*", ""));
        assert!(topic("*.#", "a.b.c"));
        assert!(topic("#.b.*", "a.b.c"));
        assert!(topic("#.b.*", "b.b.b.c"));
        assert!(!topic("#.b.*", "a.b"));
        assert!(topic("a.#.*.d", "a.b.c.d"));
        assert!(topic("a.#.*.d", "a.x.d"));
        assert!(!topic("a.#.*.d", "a.d"));
    }

    #[test]
    fn routes_each_queue_once() {
        let mut exchange = Exchange::new(ExchangeKind::Topic);
        exchange.bind("q", "a.*");
        exchange.bind("q", "#");
        exchange.bind("q", "#");
        exchange.bind("other", "b.#");
        let mut queues = Vec::new();
        exchange.route("a.x", &mut queues);
        assert_eq!(queues, ["q"]);
    }
}
