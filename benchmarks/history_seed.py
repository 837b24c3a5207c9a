"""A million analysis requests for the history benchmark (``history_p95.py``), written
by PostgreSQL itself (``INSERT ... SELECT ... FROM generate_series``): about a
minute, where the ORM would take most of an hour.

The spread is what a year of a busy service looks like: five owners (the bench
user holds 40 %, the others 15 % each), a status mix dominated by completed ones,
a few soft-deleted, media types and providers in realistic shares, ``created_at``
over the past year, and prompts of six to nine words drawn from a vocabulary with
a skewed (Zipf-like) frequency, so a search term can be common, middling or rare.

Not a benchmark itself. Rows are written as another service would write them, with
plain SQL: no signals, no audit entries, no cache invalidation (the benchmark
starts with an empty cache).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

ROWS = 1_000_000

# Ordered from most to least frequent: word n is drawn with a probability falling
# exponentially with n (see _WORD below): the first few are in a third or more of
# all prompts, words 25 to 40 in 2 to 8 %, the last dozen in about 0.1 to 0.2 %
# (the very last also takes the tail, so it is not one of the rare ones).
# A word list reads better as text than as 83 quoted items.
VOCABULARY = tuple(
    """
    describe summarise person scene people outdoor vehicle building speech music
    document invoice meeting street animal beach crowd night kitchen office highway
    river mountain forest interview lecture receipt contract diagram chart whiteboard
    podcast concert stadium airport harbour bridge tunnel warehouse factory hospital
    classroom library museum garden playground bicycle motorcycle tractor helicopter
    sailboat submarine lighthouse waterfall glacier volcano desert canyon savanna
    tundra orchard vineyard bakery pharmacy laboratory observatory greenhouse aquarium
    planetarium trombone xylophone harpsichord accordion bagpipes didgeridoo theremin
    zeppelin gondola toboggan catamaran hovercraft monorail funicular
    """.split()  # noqa: SIM905
)

# (value, share) pairs; the shares of each list add up to 1.
STATUSES = (
    ("completed", 0.70),
    ("failed", 0.10),
    ("cancelled", 0.05),
    ("pending", 0.05),
    ("processing", 0.03),
    ("deleted", 0.07),  # soft-deleted: deleted_at is set too, history never shows them
)
MEDIA_TYPES = (
    ("video", 0.40),
    ("image", 0.25),
    ("audio", 0.15),
    ("document", 0.15),
    ("unknown", 0.05),
)
PROVIDERS = (
    ("builtin", 0.35),
    ("openai", 0.30),
    ("anthropic", 0.20),
    ("gemini", 0.10),
    ("local", 0.05),
)
OWNER_SHARES = (0.40, 0.15, 0.15, 0.15, 0.15)  # the bench user first

EXTENSIONS = {"video": "mp4", "image": "jpg", "audio": "mp3", "document": "pdf", "unknown": "bin"}


@dataclass(frozen=True)
class Seeded:
    rows: int
    seconds: float
    visible_of_bench: int
    visible_of_all: int


def _pick(choices: tuple[tuple[str, float], ...], draw: str) -> str:
    """A CASE expression giving each value its share of ``draw``, a column uniform
    in [0, 1) drawn once per row (random() in every arm would skew the shares)."""
    arms, bound = [], 0.0
    for value, share in choices[:-1]:
        bound += share
        arms.append(f"WHEN {draw} < {bound:.4f} THEN '{value}'")
    return f"(CASE {' '.join(arms)} ELSE '{choices[-1][0]}' END)"


def _owner(owner_ids: list[int], draw: str) -> str:
    arms, bound = [], 0.0
    for owner_id, share in zip(owner_ids[:-1], OWNER_SHARES, strict=False):
        bound += share
        arms.append(f"WHEN {draw} < {bound:.4f} THEN {owner_id}")
    return f"(CASE {' '.join(arms)} ELSE {owner_ids[-1]} END)"


# Word index 1..N, exponentially skewed towards the front (mean index 12).
_WORD = "words[least({n}, 1 + floor(-12 * ln(1 - random()))::int)]"


def _insert_sql(owner_ids: list[int]) -> str:
    # Built from this module's constants and integer ids only: no outside text.
    words = len(VOCABULARY)
    prompt_words = " || ' ' || ".join(_WORD.format(n=words) for _ in range(6))
    extension = " ".join(f"WHEN '{kind}' THEN '{ext}'" for kind, ext in EXTENSIONS.items())
    return f"""
    WITH draws AS (
        SELECT i, random() AS u_status, random() AS u_media, random() AS u_provider,
               random() AS u_owner
        FROM generate_series(1, {ROWS}) AS i
    ), drawn AS (
        SELECT
            i,
            {_pick(STATUSES, "u_status")} AS status,
            {_pick(MEDIA_TYPES, "u_media")} AS media_type,
            {_pick(PROVIDERS, "u_provider")} AS provider,
            {_owner(owner_ids, "u_owner")} AS owner_id,
            now() - random() * interval '365 days' AS created_at,
            (200 + power(random(), 3) * 60000)::int AS latency_ms,
            (random() < 0.3) AS uploaded,
            -- 0 to 3 extra words: prompts of six to nine words.
            floor(random() * 4)::int AS extra,
            %(words)s::text[] AS words
        FROM draws
    )
    INSERT INTO media_analysis_requests (
        id, correlation_id, media_url, original_filename, prompt, media_type, status,
        model_used, latency_ms, error_code, error_message, retry_count, metadata,
        created_at, started_at, completed_at, deleted_at, owner_id, provider
    )
    SELECT
        gen_random_uuid(),
        gen_random_uuid(),
        'https://media.example.org/' || i || '.' || (CASE media_type {extension} END),
        CASE WHEN uploaded
             THEN {_WORD.format(n=words)} || '-' || i || '.' || (CASE media_type {extension} END)
        END,
        initcap({prompt_words})
            || CASE WHEN extra > 0 THEN ' ' || {_WORD.format(n=words)} ELSE '' END
            || CASE WHEN extra > 1 THEN ' ' || {_WORD.format(n=words)} ELSE '' END
            || CASE WHEN extra > 2 THEN ' ' || {_WORD.format(n=words)} ELSE '' END
            || '?',
        media_type::media_type_enum,
        status::media_analysis_status,
        CASE provider WHEN 'openai' THEN 'gpt-4o-mini' WHEN 'anthropic' THEN 'claude-3-5-haiku'
             WHEN 'gemini' THEN 'gemini-1.5-flash' WHEN 'local' THEN 'llava-13b'
             ELSE 'builtin-report' END,
        CASE WHEN status IN ('completed', 'failed') THEN latency_ms END,
        CASE WHEN status = 'failed' THEN 'provider_error' END,
        CASE WHEN status = 'failed' THEN 'The provider answered 500.' END,
        CASE WHEN status = 'failed' THEN floor(random() * 3)::int ELSE 0 END,
        '{{}}'::jsonb,
        created_at,
        CASE WHEN status <> 'pending' THEN created_at + interval '1 second' END,
        CASE WHEN status IN ('completed', 'failed', 'cancelled')
             THEN created_at + latency_ms * interval '1 millisecond' END,
        CASE WHEN status = 'deleted' THEN created_at + interval '1 day' END,
        owner_id,
        provider
    -- In the order a live service writes them: a request's row is appended when it
    -- is submitted, so the table's pages follow created_at. Rows written in random
    -- order would make every step of a newest-first walk a random page read.
    FROM drawn ORDER BY created_at
    """  # noqa: S608 (constants and integers only, see above)


def seed(database_url: str, owner_ids: list[int], bench_owner_id: int) -> Seeded:
    """Writes the rows, then VACUUM ANALYZE (a table this size is always analysed in
    production, and the visibility map lets index-only scans skip the heap)."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SELECT setseed(0.12)")  # the same spread on every run
        # A large INSERT builds its sort-free indexes faster with room to work.
        connection.execute("SET maintenance_work_mem = '256MB'")
        connection.execute(_insert_sql(owner_ids), {"words": list(VOCABULARY)})
        connection.execute("VACUUM ANALYZE media_analysis_requests")
        visible = "SELECT count(*) FROM media_analysis_requests WHERE deleted_at IS NULL"
        visible_of_all = connection.execute(visible).fetchone()[0]
        visible_of_bench = connection.execute(
            visible + " AND owner_id = %s", [bench_owner_id]
        ).fetchone()[0]
    return Seeded(ROWS, time.monotonic() - started, visible_of_bench, visible_of_all)


def word_shares(database_url: str, owner_id: int, words: list[str]) -> dict[str, int]:
    """How many of the owner's visible requests each search term matches."""
    with psycopg.connect(database_url) as connection:
        return {
            word: connection.execute(
                "SELECT count(*) FROM media_analysis_requests WHERE owner_id = %s"
                " AND deleted_at IS NULL AND (prompt ILIKE %s OR original_filename ILIKE %s)",
                [owner_id, f"%{word}%", f"%{word}%"],
            ).fetchone()[0]
            for word in words
        }
