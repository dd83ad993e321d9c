//! Loads generated schemas into a running registry over HTTP, for the scale
//! run (`scripts/bench-scale`): 60% Avro, 20% Protobuf, 20% JSON Schema;
//! subject `s{n}-value` has 1 to 50 versions, each with one field more than the
//! one before (a backward-compatible change in each format), so every schema
//! is distinct. Writers own disjoint subjects and register each subject's
//! versions in order.
//!
//! Usage: `load_schemas ADDR COUNT [WRITERS]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Versions of subject `s`: 1 to 50, spread by a multiplicative hash.
fn versions_of(s: u64) -> u64 {
    1 + (s * 7919) % 50
}

/// The registration body of version `v` of subject `s`.
fn body(s: u64, v: u64) -> serde_json::Value {
    let fields = 8 + v;
    match s % 10 {
        0..=5 => {
            let fields: Vec<serde_json::Value> = (1..=fields)
                .map(|j| {
                    if j <= 8 {
                        let ty = ["string", "long", "double", "boolean"][(j % 4) as usize];
                        serde_json::json!({"name": format!("f{j}"), "type": ty})
                    } else {
                        serde_json::json!({"name": format!("x{j}"), "type": ["null", "long"], "default": null})
                    }
                })
                .collect();
            let schema = serde_json::json!({
                "type": "record", "name": format!("E{s}"), "namespace": format!("acme.s{s}"), "fields": fields,
            });
            serde_json::json!({"schema": schema.to_string()})
        }
        6 | 7 => {
            let mut text = format!("syntax = \"proto3\";\npackage acme.s{s};\nmessage E{s} {{\n");
            for j in 1..=fields {
                let ty = ["string", "int64", "double", "bool"][(j % 4) as usize];
                text.push_str(&format!("  {ty} f{j} = {j};\n"));
            }
            text.push_str("}\n");
            serde_json::json!({"schemaType": "PROTOBUF", "schema": text})
        }
        _ => {
            let properties: serde_json::Map<String, serde_json::Value> = (1..=fields)
                .map(|j| {
                    let ty = ["string", "integer", "number", "boolean"][(j % 4) as usize];
                    (format!("f{j}"), serde_json::json!({"type": ty}))
                })
                .collect();
            // Closed, so that each version's added optional property is a
            // backward-compatible change.
            let schema = serde_json::json!({
                "type": "object", "title": format!("E{s}"), "properties": properties, "additionalProperties": false,
            });
            serde_json::json!({"schemaType": "JSON", "schema": schema.to_string()})
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: load_schemas ADDR COUNT [WRITERS]";
    let addr = args.next().ok_or(usage)?;
    let count: u64 = args.next().ok_or(usage)?.parse()?;
    let writers: u64 = args.next().map_or(Ok(32), |w| w.parse())?;
    let client = reqwest::Client::new();
    // Writers take the next subject from a shared counter until COUNT schemas
    // are claimed; each claims a subject's versions before registering them.
    let next_subject = Arc::new(AtomicU64::new(0));
    let claimed = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (client, addr) = (client.clone(), addr.clone());
        let (next_subject, claimed, failed) = (Arc::clone(&next_subject), Arc::clone(&claimed), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            loop {
                let s = next_subject.fetch_add(1, Ordering::Relaxed);
                let wanted = versions_of(s);
                let before = claimed.fetch_add(wanted, Ordering::Relaxed);
                if before >= count {
                    return;
                }
                for v in 1..=wanted.min(count - before) {
                    let url = format!("http://{addr}/subjects/s{s}-value/versions");
                    let answer = client
                        .post(&url)
                        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                        .json(&body(s, v))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status().is_success() => {}
                        Ok(answer) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                let status = answer.status();
                                eprintln!("{url}: {status} {}", answer.text().await.unwrap_or_default());
                            }
                        }
                        Err(error) => {
                            if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("{url}: {error}");
                            }
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "  registered {} schemas in {seconds:.0} s ({:.0}/s), {failed} failed",
        count - failed,
        f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / seconds
    );
    Ok(())
}
