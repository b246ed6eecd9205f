//! The Kafka-protocol backend (feature `kafka`): the log seam over
//! librdkafka, for a real broker (Kafka, Redpanda, tansu, ...) or
//! librdkafka's in-process mock cluster.
//!
//! How each operation maps, and why:
//! - **Append**: a keyed record is produced and its delivery report awaited;
//!   the position is the partition and offset the broker acknowledged.
//!   Keys choose partitions with `murmur2_random`, the Java client's
//!   partitioner, so other producers on the topic agree; keyless records go
//!   to a partition of librdkafka's choice. Idempotence is on and one
//!   request is in flight, so a batch keeps its order within a partition.
//! - **Consumer**: one consumer per group at a time (as in every schedule of
//!   this harness). It assigns itself every partition (Kafka's manual
//!   assignment) and starts at the group's committed offsets, or at the
//!   earliest record for a new group. Manual assignment means no rebalance:
//!   nothing is revoked mid-poll and nothing waits for a group join; the
//!   commits still go to the group coordinator under the group id, so
//!   another consumer of the group resumes from them.
//! - **Poll**: reads the high watermarks first, then polls until every
//!   partition reaches its watermark, within the log's timeout
//!   ([`DEFAULT_TIMEOUT`], or [`KafkaLog::with_timeout`]). Transient errors
//!   (a partition moving between brokers, a broker restarting: see
//!   `is_transient`) are waited out within that time, since librdkafka
//!   recovers from them; a broker that does not deliver in time is a
//!   [`LogError::PollFailed`] naming the partitions behind and the last
//!   error, after which the consumer refuses to commit (as after a failed
//!   merkql poll). merkql returns everything up to the tail in one call;
//!   Kafka delivers in fetches, so this poll loops: the result is the same
//!   set.
//! - **Commit**: exactly the next offset of each partition this consumer
//!   returned, synchronously. Records polled and not committed come back to
//!   the group's next consumer (redelivery), which the runners skip or
//!   apply as they do on merkql.
//! - **Reopen**: the clients are dropped and made again, as a restarted
//!   process would; the broker keeps everything.
//! - **Faults**: the file-level faults are merkql's; this backend refuses
//!   them ([`LogError::FaultUnsupported`]). Broker faults of the mock
//!   cluster (request errors, a broker down) are driven by the tests.

use super::{GroupConsumer, Log, LogError};
use crate::record::{LogRecord, Position};
use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest wait, unless [`KafkaLog::with_timeout`] says otherwise, for one
/// batch of appends to be acknowledged, one poll to reach the watermarks,
/// one record to be read, or one metadata request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Most records the producer holds unacknowledged.
pub const PRODUCER_QUEUE_RECORDS: usize = 10_000;

/// Delivery reports of the producer, by the sequence number each record
/// was sent with.
#[derive(Default)]
struct Deliveries(Mutex<Vec<(usize, Result<Position, String>)>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let outcome = match result {
            Ok(message) => match (u32::try_from(message.partition()), u64::try_from(message.offset())) {
                (Ok(partition), Ok(offset)) => Ok(Position { partition, offset }),
                _ => Err(format!("acknowledged at an impossible place: {} {}", message.partition(), message.offset())),
            },
            Err((error, _)) => Err(error.to_string()),
        };
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((index, outcome));
    }
}

/// A topic on a Kafka-protocol broker.
pub struct KafkaLog {
    bootstrap: String,
    topic: String,
    partitions: u32,
    producer: BaseProducer<Deliveries>,
    /// Reads watermarks and single records.
    reader: BaseConsumer,
    /// Whether this log created its topic ([`KafkaLog::create`]) and so
    /// deletes it when dropped.
    owns_topic: bool,
    /// How long each operation may wait for the broker.
    timeout: Duration,
    /// The sequence number of the next record sent.
    next_sequence: std::sync::atomic::AtomicUsize,
    /// Held through each batch of appends: the delivery reports are one
    /// queue, so batches from several threads take turns.
    appending: Mutex<()>,
}

/// A backend error of the broker at `bootstrap`.
fn backend_error(bootstrap: &str, action: &'static str, message: impl std::fmt::Display) -> LogError {
    LogError::Backend { action, place: crate::text::quoted(bootstrap), message: message.to_string() }
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        // A broker that comes back is reconnected to within a second
        // (librdkafka's default waits up to 10 s), so that an operation
        // waiting out a restart sees it.
        .set("reconnect.backoff.max.ms", "1000");
    config
}

impl KafkaLog {
    /// The topic `topic`, which must exist with `partitions` partitions
    /// (created by [`create_on_mock`] or by the broker's tools).
    pub fn open(bootstrap: &str, topic: &str, partitions: u32) -> Result<KafkaLog, LogError> {
        KafkaLog::connect(bootstrap, topic, partitions, DEFAULT_TIMEOUT)
    }

    /// The existing topic `topic`, whatever its partition count (which
    /// must be `partitions` if given): a topic that other producers write,
    /// projected by `project --kafka`.
    pub fn open_existing(bootstrap: &str, topic: &str, partitions: Option<u32>) -> Result<KafkaLog, LogError> {
        let reader: BaseConsumer =
            client_config(bootstrap).create().map_err(|e| backend_error(bootstrap, "create a reader", e))?;
        let metadata = reader
            .fetch_metadata(Some(topic), DEFAULT_TIMEOUT)
            .map_err(|e| backend_error(bootstrap, "read the topic's metadata", e))?;
        let found = metadata.topics().first().map_or(0, |t| t.partitions().len()) as u32;
        if found == 0 {
            return Err(LogError::Missing { place: crate::text::quoted(bootstrap), topic: crate::text::quoted(topic) });
        }
        if let Some(wanted) = partitions
            && wanted != found
        {
            return Err(backend_error(
                bootstrap,
                "open the topic",
                format!("topic {} has {found} partitions, not {wanted}; drop --partitions", crate::text::quoted(topic)),
            ));
        }
        KafkaLog::open(bootstrap, topic, found)
    }

    /// New clients of `topic`, which must have `partitions` partitions,
    /// each operation waiting at most `timeout`.
    fn connect(bootstrap: &str, topic: &str, partitions: u32, timeout: Duration) -> Result<KafkaLog, LogError> {
        let backend = |action, e: KafkaError| backend_error(bootstrap, action, e);
        let producer = client_config(bootstrap)
            .set("partitioner", "murmur2_random")
            .set("enable.idempotence", "true")
            .set("max.in.flight.requests.per.connection", "1")
            .set("linger.ms", "0")
            // Bounds the memory a large batch takes: past this many
            // unacknowledged records, sending waits for acknowledgements
            // (librdkafka's default is 100,000).
            .set("queue.buffering.max.messages", PRODUCER_QUEUE_RECORDS.to_string())
            .create_with_context(Deliveries::default())
            .map_err(|e| backend("create a producer", e))?;
        let reader: BaseConsumer = client_config(bootstrap)
            .set("group.id", "projection-harness-reader")
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| backend("create a reader", e))?;
        let log = KafkaLog {
            bootstrap: bootstrap.to_string(),
            topic: topic.to_string(),
            partitions,
            producer,
            reader,
            owns_topic: false,
            timeout,
            next_sequence: std::sync::atomic::AtomicUsize::new(0),
            appending: Mutex::new(()),
        };
        let metadata =
            log.reader.fetch_metadata(Some(topic), log.timeout).map_err(|e| backend("read the topic's metadata", e))?;
        let found = metadata.topics().first().map(|t| t.partitions().len()).unwrap_or(0);
        if found != partitions as usize {
            return Err(LogError::Missing {
                place: crate::text::quoted(bootstrap),
                topic: format!("{} of {partitions} partitions (found {found})", crate::text::quoted(topic)),
            });
        }
        Ok(log)
    }

    /// Creates the new topic `topic` with `partitions` partitions on a
    /// real broker (replication factor 1: a test topic), opens it, and
    /// deletes it when the log is dropped.
    pub fn create(bootstrap: &str, topic: &str, partitions: u32) -> Result<KafkaLog, LogError> {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        super::check_partition_count(partitions)?;
        let admin: AdminClient<rdkafka::client::DefaultClientContext> =
            client_config(bootstrap).create().map_err(|e| backend_error(bootstrap, "create an admin client", e))?;
        let new_topic = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(DEFAULT_TIMEOUT));
        let results = futures_executor::block_on(admin.create_topics([&new_topic], &options))
            .map_err(|e| backend_error(bootstrap, "create the topic", e))?;
        for result in results {
            if let Err((name, code)) = result {
                return Err(backend_error(
                    bootstrap,
                    "create the topic",
                    format!("{}: {code}", crate::text::quoted(&name)),
                ));
            }
        }
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        // A new topic's metadata reaches every broker of a cluster shortly
        // after (a single-node broker has it at once, so only a cluster
        // exercises this wait).
        let mut log = loop {
            match KafkaLog::open(bootstrap, topic, partitions) {
                Ok(log) => break log,
                Err(LogError::Missing { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        };
        log.owns_topic = true;
        Ok(log)
    }

    /// The same log, each operation waiting at most `timeout` for the
    /// broker (instead of [`DEFAULT_TIMEOUT`]) before it fails by name: a
    /// broker that is down costs each operation this long.
    pub fn with_timeout(mut self, timeout: Duration) -> KafkaLog {
        self.timeout = timeout;
        self
    }

    /// Sends `records` and waits, within the log's timeout for the whole
    /// batch, for each one's acknowledgement; the positions in order.
    fn send_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        use rdkafka::types::RDKafkaErrorCode::QueueFull;
        let deadline = Instant::now() + self.timeout;
        // Each report carries its record's sequence number: a late report
        // of an earlier batch that gave up is below this batch's first and
        // is not taken for one of this batch's records.
        let first = self.next_sequence.fetch_add(records.len(), std::sync::atomic::Ordering::SeqCst);
        for (index, (key, value)) in records.iter().enumerate() {
            let mut pending = BaseRecord::with_opaque_to(&self.topic, first + index).payload(*value);
            if let Some(key) = key {
                pending = pending.key(*key);
            }
            loop {
                match self.producer.send(pending) {
                    Ok(()) => break,
                    // The queue is full: serve acknowledgements, try again.
                    Err((KafkaError::MessageProduction(QueueFull), back)) if Instant::now() < deadline => {
                        self.producer.poll(Duration::from_millis(10));
                        pending = back;
                    }
                    Err((e, _)) => return Err(self.backend("append", e)),
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.producer.flush(left).map_err(|e| self.backend("flush the appends", e))?;
        let mut outcomes: Vec<Option<Result<Position, String>>> = vec![None; records.len()];
        for (sequence, outcome) in self.take_reports() {
            if let Some(slot) = sequence.checked_sub(first).and_then(|index| outcomes.get_mut(index)) {
                *slot = Some(outcome);
            }
        }
        let acknowledged = outcomes.iter().filter(|outcome| outcome.is_some()).count();
        if acknowledged != records.len() {
            return Err(self.backend("append", format!("{acknowledged} of {} records acknowledged", records.len())));
        }
        outcomes.into_iter().flatten().map(|outcome| outcome.map_err(|e| self.backend("append", e))).collect()
    }

    fn backend(&self, action: &'static str, message: impl std::fmt::Display) -> LogError {
        LogError::Backend { action, place: self.place(), message: message.to_string() }
    }

    fn take_reports(&self) -> Vec<(usize, Result<Position, String>)> {
        std::mem::take(&mut *self.producer.context().0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn place(&self) -> String {
        format!("topic {} on {}", crate::text::quoted(&self.topic), crate::text::quoted(&self.bootstrap))
    }
}

/// Creates `topic` with `partitions` partitions on a mock cluster (whose
/// brokers do not take the CreateTopics request) and opens it.
pub fn create_on_mock<C: ClientContext>(
    cluster: &rdkafka::mocking::MockCluster<'_, C>,
    topic: &str,
    partitions: u32,
) -> Result<KafkaLog, LogError> {
    super::check_partition_count(partitions)?;
    cluster
        .create_topic(topic, partitions as i32, 1)
        .map_err(|e| backend_error(&cluster.bootstrap_servers(), "create the topic", e))?;
    KafkaLog::open(&cluster.bootstrap_servers(), topic, partitions)
}

impl Log for KafkaLog {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn partitions(&self) -> u32 {
        self.partitions
    }

    fn append(&self, key: Option<&str>, value: &str) -> Result<Position, LogError> {
        Ok(self.append_batch(&[(key, value)])?.remove(0))
    }

    fn append_batch(&self, records: &[(Option<&str>, &str)]) -> Result<Vec<Position>, LogError> {
        let _turn = self.appending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let appended = self.send_batch(records);
        if appended.is_err() {
            // A batch that failed is not sent later behind the caller's
            // back: what is still queued is dropped. A record already on
            // its way may still land, unacknowledged, as with any Kafka
            // producer.
            self.producer.purge(PurgeConfig::default().queue());
        }
        appended
    }

    fn end_offsets(&self) -> Result<Vec<u64>, LogError> {
        high_watermarks(&self.reader, &self.topic, self.partitions, self.timeout)
            .map_err(|e| self.backend("read the end offsets", e))
    }

    fn consumer(&self, group_id: &str) -> Result<Box<dyn GroupConsumer>, LogError> {
        if !super::is_safe_name(group_id, super::MAX_GROUP_ID_BYTES) {
            return Err(LogError::BadGroupId(crate::text::quoted(group_id)));
        }
        let consumer: BaseConsumer = client_config(&self.bootstrap)
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A poll waits for the watermarks it read: answer fetches at
            // once instead of after librdkafka's default 500 ms.
            .set("fetch.wait.max.ms", "5")
            .set("fetch.error.backoff.ms", "5")
            .create()
            .map_err(|e| self.backend("create a consumer", e))?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..self.partitions {
            assignment
                .add_partition_offset(&self.topic, partition as i32, Offset::Stored)
                .map_err(|e| self.backend("assign the partitions", e))?;
        }
        consumer.assign(&assignment).map_err(|e| self.backend("assign the partitions", e))?;
        let committed = consumer
            .committed_offsets(assignment, self.timeout)
            .map_err(|e| self.backend("read the group's committed offsets", e))?;
        let mut next = vec![0u64; self.partitions as usize];
        for element in committed.elements() {
            if let (Ok(partition), Offset::Offset(offset)) = (usize::try_from(element.partition()), element.offset())
                && partition < next.len()
            {
                next[partition] = u64::try_from(offset).unwrap_or(0);
            }
        }
        Ok(Box::new(KafkaConsumer {
            consumer,
            topic: self.topic.clone(),
            place: self.place(),
            next,
            committed: None,
            failed: false,
            timeout: self.timeout,
        }))
    }

    fn reopen(&mut self) -> Result<(), LogError> {
        // The replaced log must not delete the topic the new one reads.
        let owns_topic = std::mem::replace(&mut self.owns_topic, false);
        match KafkaLog::connect(&self.bootstrap, &self.topic, self.partitions, self.timeout) {
            Ok(mut reopened) => {
                reopened.owns_topic = owns_topic;
                *self = reopened;
                Ok(())
            }
            Err(e) => {
                self.owns_topic = owns_topic;
                Err(e)
            }
        }
    }

    fn reset_offsets_advice(&self, group_id: &str) -> String {
        format!(
            "reset the group's offsets to the earliest record (kafka-consumer-groups.sh --group {} --topic {} --reset-offsets --to-earliest --execute) to poll from the earliest record",
            crate::text::quoted_if_needed(group_id),
            crate::text::quoted_if_needed(&self.topic)
        )
    }

    fn record_at(&self, position: Position) -> Result<Option<LogRecord>, LogError> {
        let ends = self.end_offsets()?;
        if ends.get(position.partition as usize).is_none_or(|end| position.offset >= *end) {
            return Ok(None);
        }
        let mut assignment = TopicPartitionList::new();
        let offset = i64::try_from(position.offset).map_err(|e| self.backend("read a record", e))?;
        assignment
            .add_partition_offset(&self.topic, position.partition as i32, Offset::Offset(offset))
            .map_err(|e| self.backend("read a record", e))?;
        self.reader.assign(&assignment).map_err(|e| self.backend("read a record", e))?;
        let deadline = Instant::now() + self.timeout;
        let mut last_error = None;
        while Instant::now() < deadline {
            match self.reader.poll(Duration::from_millis(100)) {
                Some(Ok(message)) if message.offset() == offset => {
                    return log_record(&message).map(Some).map_err(|e| self.backend("read a record", e));
                }
                Some(Ok(_)) | None => {}
                Some(Err(e)) if is_transient(&e) => last_error = Some(e),
                Some(Err(e)) => return Err(self.backend("read a record", e)),
            }
        }
        Err(self.backend("read a record", format!("nothing arrived within {:?}{}", self.timeout, after(last_error))))
    }
}

impl Drop for KafkaLog {
    /// Deletes a topic this log created; a failure is reported on stderr
    /// with the topic's name, since a drop cannot return it.
    fn drop(&mut self) {
        if !self.owns_topic {
            return;
        }
        use rdkafka::admin::{AdminClient, AdminOptions};
        let deleted = client_config(&self.bootstrap)
            .create::<AdminClient<rdkafka::client::DefaultClientContext>>()
            .map_err(|e| e.to_string())
            .and_then(|admin| {
                let options = AdminOptions::new().operation_timeout(Some(self.timeout));
                futures_executor::block_on(admin.delete_topics(&[self.topic.as_str()], &options))
                    .map_err(|e| e.to_string())
                    .and_then(|results| {
                        results.into_iter().try_for_each(|r| r.map(drop).map_err(|(_, code)| code.to_string()))
                    })
            });
        if let Err(e) = deleted {
            eprintln!(
                "warning: could not delete the test topic {} on {}: {}; delete it with your broker's tools",
                crate::text::quoted(&self.topic),
                crate::text::quoted(&self.bootstrap),
                crate::text::escaped(&e)
            );
        }
    }
}

/// A topic name no other run uses: `prefix`, the process id, the time and
/// a counter, so that runs on one broker never share a topic.
pub fn unique_topic(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Whether `error` is one a broker gives while its partitions move or it
/// restarts (a leader changing, a timed-out request, a dropped connection):
/// librdkafka recovers from these by itself, so an operation retries or
/// waits on, within its timeout, instead of failing at once.
fn is_transient(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::NotLeaderForPartition
                | Code::LeaderNotAvailable
                | Code::RequestTimedOut
                | Code::NotCoordinator
                | Code::CoordinatorLoadInProgress
                | Code::BrokerTransportFailure
                | Code::AllBrokersDown
                // A client whose metadata went stale while a broker was away.
                | Code::UnknownPartition
        )
    )
}

/// The end of a timeout message: the last transient error met, if any.
fn after(last_error: Option<KafkaError>) -> String {
    last_error.map_or_else(String::new, |e| format!("; the last error was: {e}"))
}

/// Each partition's high watermark. Transient errors ([`is_transient`])
/// are retried with a growing pause, as Kafka's clients do, until
/// `timeout` has passed; then they become the caller's error.
fn high_watermarks(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: u32,
    timeout: Duration,
) -> Result<Vec<u64>, KafkaError> {
    let deadline = Instant::now() + timeout;
    (0..partitions)
        .map(|p| {
            let mut backoff = Duration::from_millis(50);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match consumer.fetch_watermarks(topic, p as i32, left) {
                    Ok((_, high)) => return Ok(u64::try_from(high).unwrap_or(0)),
                    Err(e) if is_transient(&e) && backoff < left => {
                        // librdkafka refreshes the partition's leader and
                        // reconnects meanwhile.
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .collect()
}

/// The record of `message`. This seam carries text, as merkql stores it;
/// a Kafka topic may hold any bytes. A key or value that is not UTF-8 is
/// refused with its place: replacing its bytes (U+FFFD) could turn it into
/// another valid event, a forged record.
fn log_record(message: &rdkafka::message::BorrowedMessage<'_>) -> Result<LogRecord, String> {
    let (partition, offset) = match (u32::try_from(message.partition()), u64::try_from(message.offset())) {
        (Ok(partition), Ok(offset)) => (partition, offset),
        _ => return Err(format!("a record at an impossible place: {} {}", message.partition(), message.offset())),
    };
    let text = |bytes: &[u8], what: &str| {
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            format!(
                "the record at partition {partition}, offset {offset} has a {what} that is not UTF-8 ({e}); this harness reads text: remove the record or produce it as UTF-8"
            )
        })
    };
    Ok(LogRecord {
        topic: message.topic().to_string(),
        partition,
        offset,
        key: message.key().map(|k| text(k, "key")).transpose()?,
        value: message.payload().map(|v| text(v, "value")).transpose()?.unwrap_or_default(),
    })
}

struct KafkaConsumer {
    consumer: BaseConsumer,
    topic: String,
    place: String,
    /// The next offset of each partition: what a commit now would store.
    next: Vec<u64>,
    committed: Option<Vec<u64>>,
    failed: bool,
    /// The log's timeout.
    timeout: Duration,
}

impl KafkaConsumer {
    fn failed(&mut self, message: impl std::fmt::Display) -> LogError {
        self.failed = true;
        LogError::PollFailed { place: self.place.clone(), message: message.to_string() }
    }
}

impl GroupConsumer for KafkaConsumer {
    fn poll(&mut self) -> Result<Vec<LogRecord>, LogError> {
        let ends = match high_watermarks(&self.consumer, &self.topic, self.next.len() as u32, self.timeout) {
            Ok(ends) => ends,
            Err(e) => return Err(self.failed(format!("reading the watermarks: {e}"))),
        };
        let mut records = Vec::new();
        let deadline = Instant::now() + self.timeout;
        let mut last_error = None;
        while self.next.iter().zip(&ends).any(|(next, end)| next < end) {
            if Instant::now() >= deadline {
                let behind: Vec<String> = self
                    .next
                    .iter()
                    .zip(&ends)
                    .enumerate()
                    .filter(|(_, (n, e))| n < e)
                    .map(|(p, (n, e))| format!("partition {p} at {n} of {e}"))
                    .collect();
                return Err(self.failed(format!(
                    "the broker did not deliver up to the end within {:?} ({}){}",
                    self.timeout,
                    behind.join(", "),
                    after(last_error)
                )));
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(e)) if is_transient(&e) => last_error = Some(e),
                Some(Err(e)) => return Err(self.failed(e)),
                Some(Ok(message)) => {
                    let record = match log_record(&message) {
                        Ok(record) => record,
                        Err(e) => return Err(self.failed(e)),
                    };
                    let Some(next) = self.next.get_mut(record.partition as usize) else {
                        return Err(self.failed(format!("a record of partition {} arrived", record.partition)));
                    };
                    if record.offset < *next {
                        continue;
                    }
                    *next = record.offset + 1;
                    records.push(record);
                }
            }
        }
        Ok(records)
    }

    fn commit(&mut self) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::CommitAfterFailedPoll);
        }
        if self.committed.as_ref() == Some(&self.next) {
            return Ok(());
        }
        let commit_error =
            |e: KafkaError| LogError::Backend { action: "commit", place: self.place.clone(), message: e.to_string() };
        let mut offsets = TopicPartitionList::new();
        for (partition, next) in self.next.iter().enumerate() {
            let offset = Offset::Offset(i64::try_from(*next).unwrap_or(i64::MAX));
            offsets.add_partition_offset(&self.topic, partition as i32, offset).map_err(commit_error)?;
        }
        self.consumer.commit(&offsets, CommitMode::Sync).map_err(commit_error)?;
        self.committed = Some(self.next.clone());
        Ok(())
    }

    fn close(self: Box<Self>) -> Result<(), LogError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{after, is_transient};
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;

    #[test]
    fn errors_a_moving_or_restarting_broker_gives_are_waited_out_and_no_others() {
        for code in [
            Code::NotLeaderForPartition,
            Code::LeaderNotAvailable,
            Code::RequestTimedOut,
            Code::NotCoordinator,
            Code::CoordinatorLoadInProgress,
            Code::BrokerTransportFailure,
            Code::AllBrokersDown,
            Code::UnknownPartition,
        ] {
            assert!(is_transient(&KafkaError::MetadataFetch(code)), "{code:?}");
        }
        for code in [Code::TopicAuthorizationFailed, Code::UnknownTopic, Code::InvalidArgument, Code::Fail] {
            assert!(!is_transient(&KafkaError::MetadataFetch(code)), "{code:?}");
        }
        assert!(!is_transient(&KafkaError::Canceled), "an error without a code");
    }

    #[test]
    fn a_timeout_message_ends_with_the_last_error_met() {
        assert_eq!(after(None), "");
        let last = after(Some(KafkaError::MetadataFetch(Code::AllBrokersDown)));
        assert!(last.starts_with("; the last error was: Meta data fetch error: AllBrokersDown"), "{last}");
    }
}
