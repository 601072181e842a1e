use anyhow::Result;

use crate::cli::{GlobalOpts, ListArgs, ListFormat};
use crate::state::{list_ids, ContainerDir, OciState};

pub fn run(g: &GlobalOpts, a: &ListArgs) -> Result<()> {
    let mut states: Vec<OciState> = Vec::new();
    for id in list_ids(&g.root)? {
        // A container deleted while we list is simply not listed.
        let Ok(dir) = ContainerDir::read_only(&g.root, &id) else {
            continue;
        };
        let Ok(st) = dir.load() else { continue };
        states.push(dir.oci_state(&st));
    }
    if a.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(());
    }
    match a.format {
        ListFormat::Json => println!("{}", serde_json::to_string(&states)?),
        ListFormat::Table => print_table(&states),
    }
    Ok(())
}

fn print_table(states: &[OciState]) {
    let rows: Vec<[String; 6]> = states
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.pid.to_string(),
                s.status.to_string(),
                s.bundle.display().to_string(),
                s.created.clone(),
                s.owner.clone(),
            ]
        })
        .collect();
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let mut width = [0usize; 6];
    for r in std::iter::once(&head).chain(rows.iter()) {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&head).chain(rows.iter()) {
        let line: Vec<String> = r.iter().zip(width.iter()).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("   ").trim_end());
    }
}
