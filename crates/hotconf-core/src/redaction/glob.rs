//! Key globs (`db.dsn`, `**.cert_*`, `servers.*.auth`) matched one key at a time: a path of n
//! keys costs n steps of at most the glob's length each, whatever the globs, so a key of 32 000
//! segments under `**` is as cheap to check as it is to parse.

use crate::path::PathSegment;

/// One glob: its parts in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob(Vec<Part>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// `**`: any number of keys, none included.
    AnyDepth,
    /// One key, where `*` matches any run of characters (lowercase).
    Key(String),
}

impl Glob {
    /// Parses `a.*.b`, `**.cert_*`; empty keys are skipped.
    pub(crate) fn parse(glob: &str) -> Self {
        Glob(
            glob.split('.')
                .filter(|k| !k.is_empty())
                .map(|k| match k {
                    "**" => Part::AnyDepth,
                    k => Part::Key(k.to_lowercase()),
                })
                .collect(),
        )
    }

    /// The positions reachable before any key: the start, and past each leading `**`.
    fn start(&self, positions: &mut Vec<bool>) {
        positions.clear();
        positions.resize(self.0.len() + 1, false);
        positions[0] = true;
        self.close(positions);
    }

    /// Adds the positions past a `**` that matches no key.
    fn close(&self, positions: &mut [bool]) {
        for p in 0..self.0.len() {
            if positions[p] && self.0[p] == Part::AnyDepth {
                positions[p + 1] = true;
            }
        }
    }

    /// The positions after matching one more `key`, from `from` into `to`.
    fn step(&self, from: &[bool], key: &str, to: &mut [bool]) {
        to.fill(false);
        for (p, part) in self.0.iter().enumerate() {
            if !from[p] {
                continue;
            }
            match part {
                Part::AnyDepth => to[p] = true,
                Part::Key(pattern) => {
                    if wildcard(pattern.as_bytes(), key.as_bytes()) {
                        to[p + 1] = true;
                    }
                }
            }
        }
        self.close(to);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Where a walk down the config stands against every glob of a policy: which parts of each
/// glob the keys so far have matched, and whether a glob has matched the whole path or a map
/// holding it.
#[derive(Clone, Debug)]
pub(crate) struct GlobCursor {
    /// One position flag per part and one past the end, glob after glob.
    positions: Vec<bool>,
    pub(crate) matched: bool,
}

impl GlobCursor {
    pub(crate) fn start(globs: &[Glob]) -> Self {
        let mut positions = Vec::with_capacity(globs.iter().map(|g| g.len() + 1).sum());
        let mut scratch = Vec::new();
        for glob in globs {
            glob.start(&mut scratch);
            positions.extend_from_slice(&scratch);
        }
        GlobCursor {
            positions,
            matched: false,
        }
    }

    /// The cursor after one more key of the path.
    pub(crate) fn step(&self, globs: &[Glob], segment: &PathSegment) -> Self {
        if self.matched || globs.is_empty() {
            return self.clone();
        }
        let key = match segment {
            PathSegment::Key(k) => k.to_lowercase(),
            PathSegment::Index(i) => i.to_string(),
        };
        let mut next = GlobCursor {
            positions: vec![false; self.positions.len()],
            matched: false,
        };
        let mut at = 0;
        for glob in globs {
            let end = at + glob.len() + 1;
            glob.step(&self.positions[at..end], &key, &mut next.positions[at..end]);
            next.matched |= next.positions[end - 1];
            at = end;
        }
        next
    }
}

/// `*` matches any run of bytes; everything else matches itself. The greedy match that
/// backtracks only to the last `*`: at most the pattern's length times the text's.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

// How many key comparisons this thread made (tests count work instead of timing it).
#[cfg(test)]
thread_local! {
    pub(crate) static COMPARISONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}
