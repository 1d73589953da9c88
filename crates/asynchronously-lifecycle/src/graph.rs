//! The dependency graph: edges as declared, and the plan (in-degrees and out-edges) that the
//! init and deinit schedulers walk.

use std::sync::Arc;

use crate::Phase;

/// Edges as declared, by component index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    /// `init_after[i]`: the components whose init `i`'s init waits for.
    pub(crate) init_after: Vec<Vec<usize>>,
    /// `deinit_after[i]`: extra components whose deinit `i`'s deinit waits for.
    pub(crate) deinit_after: Vec<Vec<usize>>,
    /// The plan for the edges above.
    pub(crate) plan: Arc<Plan>,
    /// Whether init was scheduled, which fixes its order.
    pub(crate) init_frozen: bool,
    /// Whether deinit was scheduled, which fixes its order.
    pub(crate) deinit_frozen: bool,
}

/// Out-edges in compressed form: `targets[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Default)]
pub(crate) struct Edges {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Edges {
    fn from_lists(lists: &[Vec<usize>]) -> Edges {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut targets = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        offsets.push(0);
        for list in lists {
            targets.extend(list.iter().map(|&target| target as u32));
            offsets.push(targets.len() as u32);
        }
        Edges { offsets, targets }
    }

    pub(crate) fn of(&self, node: usize) -> &[u32] {
        &self.targets[self.offsets[node] as usize..self.offsets[node + 1] as usize]
    }
}

/// What the schedulers need: per phase, how many predecessors each component waits for, and
/// whom it releases when it finishes.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) init_waits: Vec<u32>,
    pub(crate) init_releases: Edges,
    pub(crate) deinit_waits: Vec<u32>,
    pub(crate) deinit_releases: Edges,
}

/// A cycle found while planning: the phase and its members, each waiting for the next.
pub(crate) struct Cycle {
    pub(crate) phase: Phase,
    pub(crate) members: Vec<usize>,
}

impl Graph {
    pub(crate) fn with_len(len: usize) -> Graph {
        Graph {
            init_after: vec![Vec::new(); len],
            deinit_after: vec![Vec::new(); len],
            plan: Arc::default(),
            init_frozen: false,
            deinit_frozen: false,
        }
    }

    /// Checks both phases for cycles and builds the plan.
    pub(crate) fn plan(&self) -> Result<Arc<Plan>, Cycle> {
        let len = self.init_after.len();
        // init: `i` waits for each of `init_after[i]`, so each of those releases `i`.
        let mut init_releases = vec![Vec::new(); len];
        // deinit: `d` depends on `i` for init, so `i`'s deinit waits for `d`'s: `d` releases
        // `i`. Explicit `deinit_after[i]` entries release `i` too.
        let mut deinit_releases = vec![Vec::new(); len];
        for (node, dependencies) in self.init_after.iter().enumerate() {
            for &dependency in dependencies {
                init_releases[dependency].push(node);
                deinit_releases[node].push(dependency);
            }
        }
        for (node, predecessors) in self.deinit_after.iter().enumerate() {
            for &predecessor in predecessors {
                deinit_releases[predecessor].push(node);
            }
        }
        let init_waits = in_degrees(&init_releases);
        let deinit_waits = in_degrees(&deinit_releases);
        check_acyclic(&init_releases, &init_waits)
            .map_err(|members| Cycle { phase: Phase::Init, members })?;
        check_acyclic(&deinit_releases, &deinit_waits)
            .map_err(|members| Cycle { phase: Phase::Deinit, members })?;
        Ok(Arc::new(Plan {
            init_waits,
            init_releases: Edges::from_lists(&init_releases),
            deinit_waits,
            deinit_releases: Edges::from_lists(&deinit_releases),
        }))
    }
}

fn in_degrees(releases: &[Vec<usize>]) -> Vec<u32> {
    let mut waits = vec![0u32; releases.len()];
    for targets in releases {
        for &target in targets {
            waits[target] += 1;
        }
    }
    waits
}

/// Kahn's algorithm; on a cycle, returns one cycle's members in edge order.
fn check_acyclic(releases: &[Vec<usize>], waits: &[u32]) -> Result<(), Vec<usize>> {
    let mut remaining = waits.to_vec();
    let mut ready: Vec<usize> = (0..releases.len()).filter(|&node| remaining[node] == 0).collect();
    let mut done = vec![false; releases.len()];
    while let Some(node) = ready.pop() {
        done[node] = true;
        for &target in &releases[node] {
            remaining[target] -= 1;
            if remaining[target] == 0 {
                ready.push(target);
            }
        }
    }
    let Some(start) = done.iter().position(|&finished| !finished) else { return Ok(()) };
    // Every unfinished node has an unfinished predecessor; walk predecessors until one repeats.
    let mut predecessors = vec![Vec::new(); releases.len()];
    for (node, targets) in releases.iter().enumerate() {
        for &target in targets {
            predecessors[target].push(node);
        }
    }
    let mut seen_at = vec![usize::MAX; releases.len()];
    let mut path = Vec::new();
    let mut node = start;
    while seen_at[node] == usize::MAX {
        seen_at[node] = path.len();
        path.push(node);
        node = *predecessors[node]
            .iter()
            .find(|&&predecessor| !done[predecessor])
            .expect("an unfinished node has an unfinished predecessor");
    }
    // Each member waits for the next one, and the last waits for the first.
    Err(path.split_off(seen_at[node]))
}
