-- A program's latest entries or exits (:name), newest first.
SELECT contact_id, ts, reason
FROM activities AS a
WHERE a.dt >= :dt_from AND a.program_id = :program AND a.name = :name
ORDER BY ts DESC, contact_id
LIMIT 20
