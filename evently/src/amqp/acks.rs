//! Acking a RabbitMQ consumer's deliveries together.
//!
//! Every `basic.ack` is a frame the broker reads and hands on to the queue.
//! Handlers tend to finish in bursts: one confirmation from the broker
//! settles the publishes of many of them at once, and they all ack in the
//! same instant. [`Acks`] keeps the consumer's deliveries in the order of
//! their delivery tags, and a task of its own sends what the handlers
//! settled: it wakes when one is settled, lets the other tasks that are ready
//! run first, and then sends
//! - one `basic.ack` with `multiple` set for the acked deliveries at the
//!   front, up to the oldest one still being handled (or nacked),
//! - a frame of its own for every other settled delivery: those behind a
//!   slow one, so that a slow handler never holds back the others' acks and
//!   the prefetch window keeps moving, and every nack.
//!
//! A delivery is acked only once its handler said so: a multiple ack never
//! reaches a delivery still being handled, nor one nacked. lapin writes the
//! frames of one batch in no set order, so no two of them cover the same
//! delivery; the next batch is taken once they are all written.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The deliveries of one consumer channel, and the task that settles them.
pub(crate) struct Acks {
    shared: Arc<Shared>,
    /// Taken by `finish`.
    sender: Option<JoinHandle<()>>,
}

/// One delivery, as its handler holds it. Dropped unsettled, it hands the
/// delivery back to the queue.
pub(crate) struct Ticket {
    tag: u64,
    /// Taken when settled.
    shared: Option<Arc<Shared>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    settled: Notify,
}

#[derive(Default)]
struct State {
    /// The deliveries not acked or nacked yet, in delivery tag order: the
    /// broker numbers a channel's deliveries upwards.
    slots: VecDeque<Slot>,
    closed: bool,
}

struct Slot {
    tag: u64,
    acker: lapin::Acker,
    fate: Fate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Handling,
    Ack,
    Nack { requeue: bool },
}

/// A frame to send for the delivery `tag`.
enum Settle {
    Ack {
        tag: u64,
        acker: lapin::Acker,
        multiple: bool,
    },
    Nack {
        tag: u64,
        acker: lapin::Acker,
        requeue: bool,
    },
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Acks {
    /// Starts the sending task; no delivery may have been taken from the
    /// channel yet.
    pub(crate) fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let sender = tokio::spawn(send_settled(Arc::clone(&shared)));
        Acks {
            shared,
            sender: Some(sender),
        }
    }

    /// Keeps a new delivery; called in the order the deliveries arrive.
    pub(crate) fn delivered(&self, tag: u64, acker: lapin::Acker) -> Ticket {
        lock(&self.shared).slots.push_back(Slot {
            tag,
            acker,
            fate: Fate::Handling,
        });
        Ticket {
            tag,
            shared: Some(Arc::clone(&self.shared)),
        }
    }

    /// Sends what is settled, then stops the task; waits at most `timeout`.
    pub(crate) async fn finish(mut self, timeout: Duration) {
        self.close();
        if let Some(mut sender) = self.sender.take()
            && tokio::time::timeout(timeout, &mut sender).await.is_err()
        {
            tracing::debug!("sending the last acks timed out");
            sender.abort();
        }
    }

    /// Refuses further settling and has the task send what is settled, then
    /// stop.
    fn close(&self) {
        lock(&self.shared).closed = true;
        self.shared.settled.notify_one();
    }
}

impl Drop for Acks {
    /// Without `finish`, the task still sends what is settled and stops.
    fn drop(&mut self) {
        self.close();
    }
}

impl Ticket {
    /// Acks, once the sending task gets to it.
    ///
    /// # Errors
    ///
    /// When the consumer has finished: the channel is closing, and the
    /// broker delivers the message again.
    pub(crate) fn ack(mut self) -> Result<(), String> {
        self.settle(Fate::Ack)
    }

    /// Nacks, once the sending task gets to it.
    ///
    /// # Errors
    ///
    /// As [`Ticket::ack`].
    pub(crate) fn nack(mut self, requeue: bool) -> Result<(), String> {
        self.settle(Fate::Nack { requeue })
    }

    fn settle(&mut self, fate: Fate) -> Result<(), String> {
        let Some(shared) = self.shared.take() else {
            return Ok(());
        };
        {
            let mut state = lock(&shared);
            if state.closed {
                return Err("the consumer has finished".to_owned());
            }
            let index = state
                .slots
                .binary_search_by_key(&self.tag, |slot| slot.tag)
                .map_err(|_| format!("delivery {} is not outstanding", self.tag))?;
            state.slots[index].fate = fate;
        }
        shared.settled.notify_one();
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A handler that never settled (it was cancelled): the message goes
        // back to the queue rather than holding up the acks behind it.
        let _ = self.settle(Fate::Nack { requeue: true });
    }
}

/// The sending task: wakes for settled deliveries until the consumer
/// finishes.
async fn send_settled(shared: Arc<Shared>) {
    loop {
        shared.settled.notified().await;
        // Handlers woken together finish together: let them settle first.
        tokio::task::yield_now().await;
        let (settles, closed) = {
            let mut state = lock(&shared);
            (state.take(), state.closed)
        };
        send(settles).await;
        if closed {
            return;
        }
    }
}

impl State {
    /// What to send for the deliveries settled since the last time; only
    /// those still being handled are kept.
    ///
    /// No two frames of one batch cover the same delivery: lapin writes the
    /// frames of a batch in an order of its own (each goes through a task of
    /// its own), so a multiple ack must not reach a delivery that another
    /// frame of the batch nacks. The batch after waits until these are
    /// written.
    fn take(&mut self) -> Vec<Settle> {
        let mut settles = Vec::new();

        // The acks at the front, up to the first delivery still being
        // handled or nacked: one frame for all of them.
        let mut run = None;
        let mut acks = 0_usize;
        while let Some(slot) = self.slots.pop_front_if(|slot| slot.fate == Fate::Ack) {
            run = Some((slot.tag, slot.acker));
            acks += 1;
        }
        if let Some((tag, acker)) = run {
            settles.push(Settle::Ack {
                tag,
                acker,
                multiple: acks > 1,
            });
        }

        // Every other settled delivery: a frame each.
        if self.slots.iter().any(|slot| slot.fate != Fate::Handling) {
            let capacity = self.slots.capacity();
            let slots = std::mem::replace(&mut self.slots, VecDeque::with_capacity(capacity));
            for Slot { tag, acker, fate } in slots {
                match fate {
                    Fate::Handling => self.slots.push_back(Slot { tag, acker, fate }),
                    Fate::Ack => settles.push(Settle::Ack {
                        tag,
                        acker,
                        multiple: false,
                    }),
                    Fate::Nack { requeue } => settles.push(Settle::Nack {
                        tag,
                        acker,
                        requeue,
                    }),
                }
            }
        }
        settles
    }
}

impl Settle {
    async fn send(self) {
        let (tag, sent) = match self {
            Settle::Ack {
                tag,
                acker,
                multiple,
            } => (tag, acker.ack(BasicAckOptions { multiple }).await),
            Settle::Nack {
                tag,
                acker,
                requeue,
            } => {
                let options = BasicNackOptions {
                    requeue,
                    ..BasicNackOptions::default()
                };
                (tag, acker.nack(options).await)
            }
        };
        // Either way the channel is gone, and the broker delivers the
        // messages again.
        match sent {
            Ok(true) => {}
            Ok(false) => tracing::debug!(delivery_tag = tag, "the channel closed before settling"),
            Err(error) => {
                tracing::debug!(delivery_tag = tag, error = %error, "could not settle deliveries");
            }
        }
    }
}

/// Sends the frames of a batch and waits until lapin has written them all.
async fn send(settles: Vec<Settle>) {
    futures_util::future::join_all(settles.into_iter().map(Settle::send)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state holding deliveries `1..=n`, all being handled.
    fn delivered(n: u64) -> State {
        let mut state = State::default();
        for tag in 1..=n {
            let delivery =
                lapin::message::Delivery::mock(tag, "".into(), "q".into(), false, vec![]);
            state.slots.push_back(Slot {
                tag,
                acker: delivery.acker,
                fate: Fate::Handling,
            });
        }
        state
    }

    fn settle(state: &mut State, tag: u64, fate: Fate) {
        let index = state.slots.iter().position(|s| s.tag == tag).unwrap();
        state.slots[index].fate = fate;
    }

    /// What `take` would send, readably.
    fn take(state: &mut State) -> Vec<String> {
        state
            .take()
            .into_iter()
            .map(|settle| match settle {
                Settle::Ack {
                    tag,
                    multiple: true,
                    ..
                } => format!("ack up to {tag}"),
                Settle::Ack { tag, .. } => format!("ack {tag}"),
                Settle::Nack {
                    tag, requeue: true, ..
                } => format!("requeue {tag}"),
                Settle::Nack { tag, .. } => format!("reject {tag}"),
            })
            .collect()
    }

    #[test]
    fn a_burst_settled_together_is_one_ack() {
        let mut state = delivered(5);
        for tag in 1..=5 {
            settle(&mut state, tag, Fate::Ack);
        }
        assert_eq!(take(&mut state), ["ack up to 5"]);
        assert!(state.slots.is_empty());
        assert!(take(&mut state).is_empty());
    }

    #[test]
    fn a_lone_ack_is_not_multiple() {
        let mut state = delivered(2);
        settle(&mut state, 1, Fate::Ack);
        assert_eq!(take(&mut state), ["ack 1"]);
    }

    #[test]
    fn a_multiple_ack_stops_short_of_a_delivery_being_handled() {
        let mut state = delivered(6);
        for tag in [1, 2, 4, 6] {
            settle(&mut state, tag, Fate::Ack);
        }
        // 3 and 5 are still being handled: 4 and 6 go out on their own.
        assert_eq!(take(&mut state), ["ack up to 2", "ack 4", "ack 6"]);
        assert!(take(&mut state).is_empty());

        // Once 3 is done it is acked alone: 4 was acked already.
        settle(&mut state, 3, Fate::Ack);
        assert_eq!(take(&mut state), ["ack 3"]);
        settle(&mut state, 5, Fate::Ack);
        assert_eq!(take(&mut state), ["ack 5"]);
        assert!(state.slots.is_empty());
    }

    #[test]
    fn a_multiple_ack_stops_short_of_a_nack() {
        let mut state = delivered(5);
        settle(&mut state, 1, Fate::Ack);
        settle(&mut state, 2, Fate::Ack);
        settle(&mut state, 3, Fate::Nack { requeue: true });
        settle(&mut state, 4, Fate::Ack);
        settle(&mut state, 5, Fate::Nack { requeue: false });
        assert_eq!(
            take(&mut state),
            ["ack up to 2", "requeue 3", "ack 4", "reject 5"]
        );
        assert!(state.slots.is_empty());
    }

    /// Every way six deliveries can stand, each being handled, acked or
    /// nacked: a batch covers each settled delivery once, no frame of it
    /// reaches a delivery another frame covers (lapin writes them in no set
    /// order), nor one still being handled, which is kept.
    #[test]
    fn no_frame_of_a_batch_reaches_another_frames_delivery() {
        const FATES: [Fate; 3] = [Fate::Handling, Fate::Ack, Fate::Nack { requeue: true }];
        for combination in 0..3_usize.pow(6) {
            let fates: Vec<Fate> = (0..6)
                .map(|i| FATES[combination / 3_usize.pow(i) % 3])
                .collect();
            let mut state = delivered(6);
            for (tag, fate) in (1..).zip(&fates) {
                settle(&mut state, tag, *fate);
            }
            // The deliveries each frame covers.
            let covered: Vec<Vec<u64>> = state
                .take()
                .iter()
                .map(|settle| match settle {
                    Settle::Ack {
                        tag,
                        multiple: true,
                        ..
                    } => (1..=*tag).collect(),
                    Settle::Ack { tag, .. } | Settle::Nack { tag, .. } => vec![*tag],
                })
                .collect();
            let mut all: Vec<u64> = covered.iter().flatten().copied().collect();
            all.sort_unstable();
            let settled: Vec<u64> = (1..)
                .zip(&fates)
                .filter(|(_, fate)| **fate != Fate::Handling)
                .map(|(tag, _)| tag)
                .collect();
            assert_eq!(all, settled, "{fates:?}");
            let kept: Vec<u64> = state.slots.iter().map(|slot| slot.tag).collect();
            let handling: Vec<u64> = (1..)
                .zip(&fates)
                .filter(|(_, fate)| **fate == Fate::Handling)
                .map(|(tag, _)| tag)
                .collect();
            assert_eq!(kept, handling, "{fates:?}");
        }
    }

    #[test]
    fn settled_deliveries_behind_a_handled_one_are_sent_once() {
        let mut state = delivered(3);
        settle(&mut state, 2, Fate::Nack { requeue: true });
        assert_eq!(take(&mut state), ["requeue 2"]);
        settle(&mut state, 3, Fate::Ack);
        assert_eq!(take(&mut state), ["ack 3"]);
        settle(&mut state, 1, Fate::Ack);
        assert_eq!(take(&mut state), ["ack 1"]);
        assert!(state.slots.is_empty());
    }

    #[tokio::test]
    async fn a_ticket_dropped_unsettled_requeues_and_a_finished_consumer_refuses() {
        let acks = Acks::start();
        let mock = |tag| lapin::message::Delivery::mock(tag, "".into(), "q".into(), false, vec![]);
        let first = acks.delivered(1, mock(1).acker);
        let second = acks.delivered(2, mock(2).acker);
        drop(first);
        {
            let state = lock(&acks.shared);
            assert!(state.slots[0].fate == Fate::Nack { requeue: true });
        }
        let shared = Arc::clone(&acks.shared);
        acks.finish(Duration::from_secs(5)).await;
        assert_eq!(lock(&shared).slots.len(), 1, "the requeue was sent");
        assert!(second.ack().is_err());
    }
}
