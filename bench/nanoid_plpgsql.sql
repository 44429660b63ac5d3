-- nanoid_plpgsql.sql - a nanoid() function in PL/pgSQL, the contender
-- "single UPDATE with a PL/pgSQL nanoid function" in bench/throughput.sh.
--
-- Modelled on the widely used nanoid-postgres function
-- (https://github.com/viascom/nanoid-postgres, nanoid.sql): pgcrypto's
-- gen_random_bytes() fetches a step of random bytes at a time, each byte is
-- masked to the next power of two minus one and rejected if it falls outside
-- the alphabet (the reference nanoid algorithm: no modulo bias), symbols are
-- appended until the id is complete. A wrapper validates the arguments and
-- computes mask and step, the inner function loops. Defaults as the reference
-- and as nanoid-backfill: 21 symbols of nanoid's URL alphabet, so both
-- contenders write values of the same length.
--
-- pgcrypto ships with Debian's postgresql-15 (contrib is part of the server
-- package); CREATE EXTENSION needs a superuser or a trusted-extension grant.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE OR REPLACE FUNCTION nanoid_optimized(size int, alphabet text, mask int, step int)
    RETURNS text
    LANGUAGE plpgsql
    VOLATILE
    PARALLEL UNSAFE
AS $$
DECLARE
    id_builder     text := '';
    bytes          bytea;
    idx            int;
    alphabet_array text[] := regexp_split_to_array(alphabet, '');
    alphabet_len   int := array_length(alphabet_array, 1);
BEGIN
    LOOP
        bytes := gen_random_bytes(step);
        FOR i IN 0 .. step - 1 LOOP
            idx := (get_byte(bytes, i) & mask) + 1;
            IF idx <= alphabet_len THEN
                id_builder := id_builder || alphabet_array[idx];
                IF length(id_builder) = size THEN
                    RETURN id_builder;
                END IF;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION nanoid(
    size int DEFAULT 21,
    alphabet text DEFAULT 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict',
    additional_bytes_factor float DEFAULT 1.6)
    RETURNS text
    LANGUAGE plpgsql
    VOLATILE
    PARALLEL UNSAFE
AS $$
DECLARE
    alphabet_len int;
    mask         int;
    step         int;
BEGIN
    IF size IS NULL OR size < 1 THEN
        RAISE EXCEPTION 'nanoid: size must be greater than 0';
    END IF;
    IF alphabet IS NULL OR length(alphabet) < 2 OR length(alphabet) > 255 THEN
        RAISE EXCEPTION 'nanoid: the alphabet must have 2 to 255 symbols';
    END IF;
    IF additional_bytes_factor IS NULL OR additional_bytes_factor < 1 THEN
        RAISE EXCEPTION 'nanoid: the additional bytes factor must be at least 1';
    END IF;
    alphabet_len := length(alphabet);
    -- the next power of two minus one that covers every index
    mask := (2 << floor(log(2, (alphabet_len - 1)::numeric))::int) - 1;
    -- bytes per gen_random_bytes() call: enough for one id with margin for rejects
    step := least(1024, ceil(additional_bytes_factor * mask * size / alphabet_len))::int;
    RETURN nanoid_optimized(size, alphabet, mask, step);
END
$$;
