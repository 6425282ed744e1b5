-- Classify user SQL without running it: json_serialize_sql parses the
-- text and serialises only SELECT-like statements (SELECT, WITH, FROM,
-- VALUES, DESCRIBE, SHOW, SUMMARIZE); anything else, or text that does not
-- parse, comes back with error = true.
WITH parsed AS (
    SELECT json_serialize_sql(CAST($text AS VARCHAR)) AS j
)
SELECT coalesce(CAST(j ->> 'error' AS BOOLEAN), false) AS failed,
       j ->> 'error_type' AS error_type,
       j ->> 'error_message' AS message,
       CAST(coalesce(json_array_length(j -> 'statements'), 0) AS INTEGER) AS statements
FROM parsed;
