//! merkql 0.2's silent failure modes, each reproduced on a real log with an
//! injected [`Fault`], and what the verified log makes of it. Tests named
//! `merkql_0_2_*` pin merkql's own behaviour (with verification off): a
//! merkql release that changes it turns them red, and `KNOWN-ANOMALIES.md`
//! must then be updated.

use crate::support::scratch_log;
use event_sourced_cart::anomaly::Kind;
use event_sourced_cart::log::{Fault, Log, LogError, MerkqlLog};
use event_sourced_cart::record::{LogRecord, Position};

/// Appends `values` under key `k` (all in one partition of a 1-partition log).
fn log_with(values: &[&str]) -> (tempfile::TempDir, MerkqlLog) {
    let (dir, log) = scratch_log(1);
    for value in values {
        log.append(Some("k"), value).unwrap();
    }
    (dir, log)
}

fn offsets(records: &[LogRecord]) -> Vec<u64> {
    records.iter().map(|r| r.offset).collect()
}

/// Polls and commits once with a fresh consumer of `group`.
fn poll_and_commit(log: &MerkqlLog, group: &str) -> Result<Vec<LogRecord>, LogError> {
    let mut consumer = log.consumer(group)?;
    let records = consumer.poll()?;
    consumer.commit()?;
    consumer.close()?;
    Ok(records)
}

const VALUES: [&str; 4] = ["v0-1", "v1-2", "v2-3", "v3-4"];

#[test]
fn merkql_0_2_forgets_commits_when_offsets_bin_is_corrupt_or_deleted() {
    for fault in [Fault::CorruptGroupOffsets, Fault::DeleteGroupOffsets] {
        let (dir, mut log) = log_with(&VALUES);
        assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [0, 1, 2, 3]);
        let offsets_bin = dir.path().join(".merkql/groups/g/offsets.bin");
        let before = std::fs::read(&offsets_bin).unwrap();
        assert!(log.inject(&fault).unwrap().contains("1 group(s)"));
        match fault {
            Fault::DeleteGroupOffsets => assert!(!offsets_bin.exists(), "deleted"),
            _ => assert_ne!(std::fs::read(&offsets_bin).unwrap(), before, "overwritten"),
        }
        // Redelivered from the earliest offset, no error: a projection
        // that trusts the log applies everything twice.
        assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [0, 1, 2, 3], "{fault:?}");
    }
}

#[test]
fn merkql_0_2_retention_lets_a_lagging_group_jump_over_evicted_offsets() {
    let (_dir, mut log) = log_with(&VALUES);
    assert_eq!(offsets(&poll_and_commit(&log, "ahead").unwrap()), [0, 1, 2, 3]);
    log.inject(&Fault::Retention { partition: 0, evict: 2 }).unwrap();
    log.set_verified_reads(false);
    assert_eq!(offsets(&poll_and_commit(&log, "lagging").unwrap()), [2, 3], "offsets 0 and 1 silently skipped");
    log.set_verified_reads(true);
    let error = poll_and_commit(&log, "lagging-verified").unwrap_err();
    assert!(matches!(error, LogError::Damaged { anomaly: Kind::PollSkip, partition: 0, offset: 0, .. }), "{error}");
    assert!(error.to_string().contains("retention evicted them"), "{error}");
    assert!(poll_and_commit(&log, "ahead").unwrap().is_empty(), "a group past the evicted offsets is unaffected");
}

#[test]
fn merkql_0_2_reuses_offsets_of_a_truncated_index_tail() {
    let (_dir, mut log) = log_with(&VALUES);
    assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [0, 1, 2, 3]);
    log.inject(&Fault::TruncateIndexTail { partition: 0, records: 2 }).unwrap();
    assert_eq!(log.end_offsets().unwrap(), [2]);
    let position = log.append(Some("k"), "new-2").unwrap();
    assert_eq!(position, Position { partition: 0, offset: 2 }, "offset 2 is given out again");
    for _ in 0..2 {
        log.append(Some("k"), "new").unwrap();
    }
    // The group committed up to 4: the two records at offsets 2 and 3 are
    // never delivered to it, verified or not (the log is consistent; only
    // the reader's checkpoint can tell).
    assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [4]);
    assert_eq!(log.record_at(Position { partition: 0, offset: 2 }).unwrap().unwrap().value, "new-2");
}

#[test]
fn merkql_0_2_leaves_a_record_whose_object_is_missing_out_of_poll() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::MissingObject { partition: 0, offset: 1 }).unwrap();
    log.set_verified_reads(false);
    assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [0, 2, 3], "offset 1 silently left out");
    log.set_verified_reads(true);
    let error = poll_and_commit(&log, "verified").unwrap_err();
    assert!(matches!(error, LogError::Damaged { anomaly: Kind::PollSkip, partition: 0, offset: 1, .. }), "{error}");
    assert!(error.to_string().contains("objects are missing"), "{error}");
}

#[test]
fn merkql_0_2_returns_a_flipped_payload_byte_as_is() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::FlipPayloadByte { partition: 0, offset: 2 }).unwrap();
    log.set_verified_reads(false);
    let records = poll_and_commit(&log, "g").unwrap();
    assert_eq!(records[2].value, "v2-2", "the last digit changed, no error");
    log.set_verified_reads(true);
    let error = poll_and_commit(&log, "verified").unwrap_err();
    assert!(
        matches!(error, LogError::Damaged { anomaly: Kind::InconsistentOffsets, partition: 0, offset: 2, .. }),
        "{error}"
    );
}

#[test]
fn merkql_0_2_a_failed_poll_has_advanced_the_positions() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::PollError).unwrap();
    let mut consumer = log.consumer("g").unwrap();
    assert!(consumer.poll().is_err());
    // The adapter refuses the commit that would lose the records...
    assert!(matches!(consumer.commit(), Err(LogError::CommitAfterFailedPoll)));
    consumer.close().unwrap();
    // ...so the next consumer gets them all.
    assert_eq!(offsets(&poll_and_commit(&log, "g").unwrap()), [0, 1, 2, 3]);
}

#[test]
fn merkql_0_2_auto_commit_commits_while_unwinding_from_a_panic() {
    use merkql::broker::{Broker, BrokerConfig};
    use merkql::consumer::{ConsumerConfig, OffsetReset};
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
    let producer = Broker::producer(&broker);
    for value in VALUES {
        producer.send(&merkql::record::ProducerRecord::new("t", Some("k".into()), value)).unwrap();
    }
    let config =
        |auto_commit| ConsumerConfig { group_id: "g".into(), auto_commit, offset_reset: OffsetReset::Earliest };
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut consumer = Broker::consumer(&broker, config(true));
        consumer.subscribe(&["t"]).unwrap();
        let records = consumer.poll(std::time::Duration::ZERO).unwrap();
        for record in records {
            assert!(record.offset < 1, "a projection panics on offset {}", record.offset);
        }
    }));
    assert!(applied.is_err());
    let mut consumer = Broker::consumer(&broker, config(false));
    consumer.subscribe(&["t"]).unwrap();
    let after = consumer.poll(std::time::Duration::ZERO).unwrap();
    assert!(after.is_empty(), "the panicking consumer's Drop committed all four, though only one was applied");
}

#[test]
fn faults_on_an_empty_log_do_nothing_and_say_so() {
    let (_dir, mut log) = scratch_log(2);
    for fault in [Fault::MissingObject { partition: 3, offset: 9 }, Fault::FlipPayloadByte { partition: 0, offset: 0 }]
    {
        let done = log.inject(&fault).unwrap();
        assert!(done.contains("nothing to damage"), "{done}");
    }
    assert!(log.inject(&Fault::Retention { partition: 1, evict: 5 }).unwrap().contains("keeps offsets from 0"));
}

#[test]
fn faults_that_reopen_the_broker_wait_for_every_consumer() {
    let (_dir, mut log) = log_with(&VALUES);
    let consumer = log.consumer("g").unwrap();
    assert!(matches!(log.inject(&Fault::DeleteGroupOffsets), Err(LogError::ConsumersStillOpen(1))));
    let refused = log.inject(&Fault::TruncateIndexTail { partition: 0, records: 2 });
    assert!(matches!(refused, Err(LogError::ConsumersStillOpen(1))));
    assert_eq!(log.end_offsets().unwrap(), [4], "a refused fault changes nothing");
    // Faults that leave the broker open apply with consumers open.
    log.inject(&Fault::Retention { partition: 0, evict: 1 }).unwrap();
    log.inject(&Fault::PollError).unwrap();
    log.inject(&Fault::FlipPayloadByte { partition: 0, offset: 3 }).unwrap();
    consumer.close().unwrap();
    log.inject(&Fault::DeleteGroupOffsets).unwrap();
}

#[test]
fn damaging_an_object_already_missing_does_nothing_and_says_so() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::MissingObject { partition: 0, offset: 1 }).unwrap();
    for fault in [Fault::MissingObject { partition: 0, offset: 1 }, Fault::FlipPayloadByte { partition: 0, offset: 5 }]
    {
        let done = log.inject(&fault).unwrap();
        assert!(done.contains("already missing"), "{done}");
    }
    let error = log.record_at(Position { partition: 0, offset: 1 }).unwrap_err();
    assert!(matches!(error, LogError::Damaged { anomaly: Kind::LostWrite, offset: 1, .. }), "{error}");
    assert_eq!(log.record_at(Position { partition: 0, offset: 4 }).unwrap(), None, "past the end");
}

#[test]
fn a_flipped_byte_keeps_any_value_valid_utf8_and_an_empty_value_has_none_to_flip() {
    let (_dir, mut log) = log_with(&["caf\u{e9}", "", "{\"x\":\"\u{1F600}\"}"]);
    log.set_verified_reads(false);
    for offset in 0..3 {
        log.inject(&Fault::FlipPayloadByte { partition: 0, offset }).unwrap();
    }
    let records = poll_and_commit(&log, "g").unwrap();
    assert_eq!(records.len(), 3, "every value still decodes: valid UTF-8");
    assert_ne!(records[0].value, "caf\u{e9}");
    assert_eq!(records[0].value.chars().count(), 4);
    assert_eq!(records[1].value, "");
    assert_ne!(records[2].value, "{\"x\":\"\u{1F600}\"}");
}

#[test]
fn a_record_damaged_after_it_was_verified_is_caught_on_its_next_read() {
    let (dir, log) = log_with(&VALUES);
    assert_eq!(poll_and_commit(&log, "first").unwrap().len(), 4, "every record verified once");
    // Damage by hand, behind the log's back (no inject: nothing is told).
    let pack = dir.path().join(".merkql/topics/cart-events/partitions/0/objects.pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = bytes.windows(4).position(|w| w == b"v2-3").unwrap();
    bytes[at + 3] = b'2';
    std::fs::write(&pack, bytes).unwrap();
    let error = poll_and_commit(&log, "second").unwrap_err();
    assert!(matches!(error, LogError::Damaged { anomaly: Kind::InconsistentOffsets, offset: 2, .. }), "{error}");
}

#[test]
fn retention_of_a_whole_partition_is_a_poll_skip_too() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::Retention { partition: 0, evict: 4 }).unwrap();
    for offset in 0..4 {
        assert_eq!(log.record_at(Position { partition: 0, offset }).unwrap(), None, "evicted: {offset}");
    }
    let error = poll_and_commit(&log, "fresh").unwrap_err();
    assert!(matches!(error, LogError::Damaged { anomaly: Kind::PollSkip, offset: 0, .. }), "{error}");
    assert!(error.to_string().contains("offsets 0..4") && error.to_string().contains("retention"), "{error}");
}

#[test]
fn record_at_reads_from_the_first_offset_retention_keeps() {
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::Retention { partition: 0, evict: 2 }).unwrap();
    let at = |offset| log.record_at(Position { partition: 0, offset }).unwrap().map(|r| r.value);
    assert_eq!((at(1), at(2)), (None, Some("v2-3".to_string())));
}

#[test]
fn a_missing_object_is_named_as_such_even_where_retention_begins() {
    // Missing at offset 0 (retention keeps everything), and missing at the
    // first offset retention keeps: neither is said to be evicted.
    let (_dir, mut log) = log_with(&VALUES);
    log.inject(&Fault::MissingObject { partition: 0, offset: 0 }).unwrap();
    let error = poll_and_commit(&log, "g").unwrap_err();
    assert!(error.to_string().contains("objects are missing"), "{error}");

    let (_dir, mut log) = log_with(&VALUES[..1]);
    assert_eq!(poll_and_commit(&log, "g").unwrap().len(), 1, "the group is at offset 1");
    for value in &VALUES[1..] {
        log.append(Some("k"), value).unwrap();
    }
    log.inject(&Fault::Retention { partition: 0, evict: 1 }).unwrap();
    log.inject(&Fault::MissingObject { partition: 0, offset: 1 }).unwrap();
    let error = poll_and_commit(&log, "g").unwrap_err();
    assert!(error.to_string().contains("offsets 1..2") && error.to_string().contains("objects are missing"), "{error}");
}

#[test]
fn group_offsets_that_cannot_be_listed_are_an_error() {
    let (dir, mut log) = log_with(&VALUES);
    // No group has committed yet: put a file where merkql keeps groups.
    let groups = dir.path().join(".merkql/groups");
    let _ = std::fs::remove_dir_all(&groups);
    std::fs::write(&groups, b"not a directory").unwrap();
    let error = log.inject(&Fault::DeleteGroupOffsets).unwrap_err();
    assert!(error.to_string().contains("cannot list it"), "{error}");
}

/// Writes the topic metadata merkql keeps in `meta.bin` (its `TopicConfig`).
fn write_topic_meta(topic_dir: &std::path::Path, name: &str, partitions: u32) {
    let config = merkql::topic::TopicConfig { name: name.to_string(), num_partitions: partitions };
    std::fs::write(topic_dir.join("meta.bin"), bincode::serialize(&config).unwrap()).unwrap();
}

fn partition_dirs(topic_dir: &std::path::Path) -> usize {
    std::fs::read_dir(topic_dir.join("partitions")).unwrap().count()
}

#[test]
fn merkql_0_2_trusts_the_partition_count_of_the_topic_metadata() {
    // `meta.bin` has no checksum: merkql opens a topic with whatever count
    // it says and makes the partition directories that are missing.
    let dir = tempfile::tempdir().unwrap();
    let open = || merkql::broker::Broker::open(merkql::broker::BrokerConfig::new(dir.path())).unwrap();
    open().create_topic("t", 3).unwrap();
    let topic_dir = dir.path().join(".merkql").join("topics").join("t");
    write_topic_meta(&topic_dir, "t", 5);
    assert_eq!(open().topic("t").unwrap().num_partitions(), 5);
    assert_eq!(partition_dirs(&topic_dir), 5, "two partition directories made, no error");
}

#[test]
fn a_log_whose_layout_is_damaged_is_refused_before_merkql_opens_it() {
    type Damage = fn(&std::path::Path, &str);
    let damages: [(&str, Damage, &str); 8] = [
        ("count 0", |d, t| write_topic_meta(d, t, 0), "gives 0 partitions, not 1 to 256"),
        ("count 257", |d, t| write_topic_meta(d, t, 257), "gives 257 partitions, not 1 to 256"),
        ("huge count", |d, t| write_topic_meta(d, t, u32::MAX), "gives 4294967295 partitions"),
        (
            "fewer",
            |d, t| write_topic_meta(d, t, 2),
            "a directory for partition 2, but its metadata (meta.bin) gives 2 partitions",
        ),
        ("more", |d, t| write_topic_meta(d, t, 4), "the directory of partition 3 of its 4 partitions is missing"),
        ("another name", |d, _| write_topic_meta(d, "other", 3), "names the topic \"other\""),
        (
            "garbage",
            |d, _| std::fs::write(d.join("meta.bin"), b"\xff\xff\xff\xff\xff\xff\xff\x7f").unwrap(),
            "does not read",
        ),
        (
            "a partition directory gone",
            |d, _| std::fs::remove_dir_all(d.join("partitions").join("1")).unwrap(),
            "the directory of partition 1 of its 3 partitions is missing",
        ),
    ];
    for (what, damage, expected) in damages {
        let (_scratch, log) = scratch_log(3);
        log.append(Some("k"), "v").unwrap();
        let (dir, topic) = (log.dir().to_path_buf(), log.topic().to_string());
        drop(log);
        let topic_dir = dir.join(".merkql").join("topics").join(&topic);
        damage(&topic_dir, &topic);
        let before = partition_dirs(&topic_dir);
        let error = MerkqlLog::open(&dir, &topic).err().unwrap_or_else(|| panic!("{what}: the log opened"));
        assert!(matches!(error, LogError::BadLayout { .. }), "{what}: {error}");
        assert!(error.to_string().contains(expected), "{what}: {error}");
        assert!(error.to_string().ends_with("restore the log directory from a backup"), "{what}: {error}");
        assert_eq!(partition_dirs(&topic_dir), before, "{what}: nothing made");
    }
}

#[test]
fn a_partition_that_is_a_file_is_refused() {
    let (_scratch, log) = scratch_log(2);
    let (dir, topic) = (log.dir().to_path_buf(), log.topic().to_string());
    drop(log);
    let partition = dir.join(".merkql").join("topics").join(&topic).join("partitions").join("1");
    std::fs::remove_dir_all(&partition).unwrap();
    std::fs::write(&partition, b"").unwrap();
    let error = MerkqlLog::open(&dir, &topic).err().expect("refused");
    assert!(error.to_string().contains("partition 1 is not a directory"), "{error}");
}

#[test]
fn topic_metadata_is_read_up_to_4096_bytes_and_strays_are_ignored_as_merkql_ignores_them() {
    let (_scratch, log) = scratch_log(1);
    let (dir, topic) = (log.dir().to_path_buf(), log.topic().to_string());
    drop(log);
    let topics = dir.join(".merkql").join("topics");
    let meta = topics.join(&topic).join("meta.bin");
    let written = std::fs::read(&meta).unwrap();
    // merkql reads trailing bytes past its config without complaint.
    let padded = |len: usize| {
        let mut bytes = written.clone();
        bytes.resize(len, 0);
        std::fs::write(&meta, bytes).unwrap();
    };
    padded(4096);
    MerkqlLog::open(&dir, &topic).expect("4096 bytes of metadata read");
    padded(4097);
    let error = MerkqlLog::open(&dir, &topic).err().expect("refused");
    assert!(error.to_string().contains("does not read: it is over 4096 bytes"), "{error}");
    std::fs::write(&meta, &written).unwrap();
    // A directory without metadata and a file are not topics to merkql.
    std::fs::create_dir(topics.join("not-a-topic")).unwrap();
    std::fs::write(topics.join("a-file"), b"").unwrap();
    MerkqlLog::open(&dir, &topic).expect("strays ignored");
}
