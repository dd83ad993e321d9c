//! The packed tier's read: what a `GET /schemas/ids/{id}` pays for an id that
//! is not in the front tier, over a million answers (reads spread over memory
//! far larger than the processor's caches) and over a thousand (all cached).
//!
//! `cargo bench -p stele-registry --bench packed`

use criterion::{Criterion, criterion_group, criterion_main};
use stele_registry::service::packed::{PackedTier, Packer};

/// A `GET /schemas/ids/{id}` answer of about the scale corpus's size (1.2 KB).
fn answer(id: i64) -> String {
    let fields: Vec<String> =
        (0..id % 30 + 5).map(|f| format!(r#"{{\"name\":\"field{f}_{}\",\"type\":\"long\"}}"#, id % 97)).collect();
    format!(r#"{{"schema":"{{\"type\":\"record\",\"name\":\"E{id}\",\"fields\":[{}]}}"}}"#, fields.join(","))
}

fn tier(count: i64) -> (Packer, PackedTier) {
    let packer = Packer::default();
    let samples: Vec<String> = (1..=2000).map(answer).collect();
    packer.train(&samples);
    let tier = PackedTier::new(1 << 30);
    for id in 1..=count {
        let packed = packer.pack(answer(id).as_bytes(), id as u64).expect("packs");
        assert!(tier.fill(tier.ticket(), 0, id, &packed));
    }
    (packer, tier)
}

fn random_reads(c: &mut Criterion) {
    let mut group = c.benchmark_group("packed tier read");
    for count in [1_000, 1_000_000] {
        let (packer, tier) = tier(count);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        group.bench_function(format!("random id of {count}"), |b| {
            b.iter(|| {
                // xorshift: a new id every read, spread over the whole tier.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let id = (state % count as u64) as i64 + 1;
                tier.get(&packer, 0, id).expect("held").0.len()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, random_reads);
criterion_main!(benches);
