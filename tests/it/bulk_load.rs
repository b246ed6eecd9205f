//! The bulk loader (`MerkqlLog::bulk_append`, the benchmarks' fixture
//! builder) lays out and reads back exactly what `send` (`Log::append` of
//! `MerkqlLog`) would, and normal appends continue its offsets.

use event_sourced_cart::cart::TOPIC;
use event_sourced_cart::cart::event::encode;
use event_sourced_cart::cart::scenario::canonical_events;
use event_sourced_cart::log::bulk::partition_for_key;
use event_sourced_cart::log::{Log, MerkqlLog};
use event_sourced_cart::settings::scratch_dir;
use tempfile::TempDir;

/// (partition, offset, key, value) of every record, sorted by position.
type Layout = Vec<(u32, u64, Option<String>, String)>;

fn new_log(partitions: u32) -> (TempDir, MerkqlLog) {
    let dir = scratch_dir().expect("a scratch directory");
    let log = MerkqlLog::create(dir.path(), TOPIC, partitions).expect("a new log");
    (dir, log)
}

/// Everything in the log, read by a consumer of a new group.
fn read_back(log: &MerkqlLog, group: &str) -> Layout {
    let mut consumer = log.consumer(group).expect("a consumer");
    let mut layout: Layout =
        consumer.poll().expect("a poll").into_iter().map(|r| (r.partition, r.offset, r.key, r.value)).collect();
    consumer.close().expect("close");
    layout.sort();
    layout
}

/// Keyed records over a few keys (unicode and empty included), with values
/// that tell them apart, then keyless ones.
fn records() -> Vec<(Option<String>, String)> {
    let keys = ["cart-1", "cart-2", "cart-3", "cart-10", "c", "", "kärra-ü", "cart-999999"];
    let mut records: Vec<(Option<String>, String)> =
        (0..90).map(|i| (Some(keys[i * 7 % keys.len()].to_string()), format!("value-{i}"))).collect();
    records.extend((0..11).map(|i| (None, format!("keyless-{i}"))));
    records
}

fn borrowed(records: &[(Option<String>, String)]) -> impl Iterator<Item = (Option<&str>, &str)> {
    records.iter().map(|(k, v)| (k.as_deref(), v.as_str()))
}

#[test]
fn bulk_append_lays_out_what_send_would() {
    let records = records();
    for partitions in [1, 3, 8] {
        let (_sent_dir, sent) = new_log(partitions);
        // merkql's own send, one per record, keyless ones by merkql's counter.
        sent.send_batch(&borrowed(&records).collect::<Vec<_>>()).expect("send");
        // Batches of 7 records: several append_batch calls per partition.
        for batch in [7, 1_000] {
            let (_bulk_dir, bulk) = new_log(partitions);
            let n = bulk.bulk_append_in_batches(borrowed(&records), batch).expect("bulk append");
            assert_eq!(n, records.len() as u64);
            assert_eq!(
                bulk.end_offsets().expect("end offsets"),
                sent.end_offsets().expect("end offsets"),
                "{partitions} partitions, batch {batch}"
            );
            assert_eq!(read_back(&bulk, "check"), read_back(&sent, "check"), "{partitions} partitions, batch {batch}");
        }
    }
}

#[test]
fn routing_is_merkqls() {
    for partitions in [1, 3, 8] {
        let (_dir, log) = new_log(partitions);
        for key in ["cart-1", "cart-2", "cart-42", "", "kärra"] {
            let position = log.append(Some(key), "v").expect("send");
            assert_eq!(position.partition, partition_for_key(key, partitions), "key {key:?}");
        }
    }
}

/// Encoded events, bulk loaded as owned records (the benchmarks' fixtures),
/// equal the same events appended one by one.
#[test]
fn bulk_append_of_encoded_events_equals_append() {
    let events = canonical_events();
    for partitions in [1, 3, 8] {
        let (_sent_dir, sent) = new_log(partitions);
        for event in &events {
            let record = encode(event);
            sent.append(record.key.as_deref(), &record.value).expect("append");
        }
        let (_bulk_dir, bulk) = new_log(partitions);
        let owned = events.iter().map(encode).map(|record| (record.key, record.value));
        assert_eq!(bulk.bulk_append_owned_records(owned).expect("bulk append"), events.len() as u64);
        assert_eq!(read_back(&bulk, "check"), read_back(&sent, "check"));
    }
}

#[test]
fn appends_continue_after_a_bulk_load_and_a_reopen() {
    let records = records();
    let (first, rest) = records.split_at(60);
    let (middle, last) = rest.split_at(20);
    for partitions in [1, 3, 8] {
        // Reference: everything sent one by one with merkql's send.
        let (_sent_dir, sent) = new_log(partitions);
        sent.send_batch(&borrowed(&records).collect::<Vec<_>>()).expect("send");

        let (_dir, mut log) = new_log(partitions);
        log.bulk_append(borrowed(first)).expect("bulk append");
        // A group that read the bulk load sees exactly the later appends.
        let mut reader = log.consumer("reader").expect("consumer");
        assert_eq!(reader.poll().expect("poll").len(), first.len());
        reader.commit().expect("commit");
        reader.close().expect("close");

        // Keyless sends restart merkql's round-robin: only keyed ones here.
        for (key, value) in middle {
            let key = key.as_deref().expect("keyed");
            let before = log.end_offsets().expect("end offsets");
            let position = log.append(Some(key), value).expect("send after bulk");
            assert_eq!(position.offset, before[position.partition as usize], "offsets continue after the bulk load");
        }
        log.reopen().expect("reopen");
        log.bulk_append(borrowed(last)).expect("bulk append after reopen");

        let mut reader = log.consumer("reader").expect("consumer");
        let mut later: Layout =
            reader.poll().expect("poll").into_iter().map(|r| (r.partition, r.offset, r.key, r.value)).collect();
        later.sort();
        let everything = read_back(&log, "check");
        assert_eq!(everything, read_back(&sent, "check"), "{partitions} partitions");
        let expected_later: Layout =
            everything.iter().filter(|(_, _, _, value)| !first.iter().any(|(_, v)| v == value)).cloned().collect();
        assert_eq!(later, expected_later);
    }
}

/// `Log::append_batch` (the bulk loader, what `execute` and `replay`
/// produce with) and single `Log::append`s return the positions, and lay
/// out the records, that merkql's own `send` gives one record at a time,
/// through any mix of batches, single appends, keyless records and
/// reopens: the log's keyless round-robin counter follows merkql's (reset
/// by a reopen, as merkql resets its own).
#[test]
fn append_batch_and_append_equal_merkqls_send_through_mixed_appends_and_reopens() {
    let records = records();
    // Keyless records spread over every step.
    let mixed: Vec<(Option<String>, String)> = records
        .iter()
        .enumerate()
        .map(|(i, (key, value))| (if i % 4 == 1 { None } else { key.clone() }, value.clone()))
        .collect();
    // Step 1 is one keyless `append`; the logs reopen after step 2.
    let steps: Vec<&[(Option<String>, String)]> = vec![&mixed[..29], &mixed[29..30], &mixed[30..70], &mixed[70..]];
    assert!(steps[1][0].0.is_none(), "step 1 appends a keyless record");
    for partitions in [1, 3, 8] {
        let (_batched_dir, mut batched) = new_log(partitions);
        let (_sent_dir, mut sent) = new_log(partitions);
        for (step, records) in steps.iter().enumerate() {
            let batch: Vec<(Option<&str>, &str)> = borrowed(records).collect();
            let positions = if step == 1 {
                vec![batched.append(batch[0].0, batch[0].1).expect("append")]
            } else {
                batched.append_batch(&batch).expect("append a batch")
            };
            assert_eq!(positions, sent.send_batch(&batch).expect("send"), "{partitions} partitions, step {step}");
            if step == 2 {
                batched.reopen().expect("reopen");
                sent.reopen().expect("reopen");
            }
        }
        assert_eq!(read_back(&batched, "check"), read_back(&sent, "check"), "{partitions} partitions");
    }
}

/// `PerRecord` is the same log, appended to one record at a time.
#[test]
fn per_record_is_the_same_log() {
    use event_sourced_cart::log::PerRecord;
    let (_dir, log) = new_log(3);
    let records = records();
    log.append_batch(&borrowed(&records).collect::<Vec<_>>()).expect("append");
    let per_record = PerRecord(log);
    assert_eq!(per_record.topic(), TOPIC);
    assert_eq!(per_record.partitions(), 3);
    assert_eq!(per_record.end_offsets().expect("ends"), per_record.0.end_offsets().expect("ends"));
    assert_eq!(per_record.end_offsets().expect("ends").iter().sum::<u64>(), records.len() as u64);
}
