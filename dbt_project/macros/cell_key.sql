{#- Cell-key perturbation (the ONS cell key method, simplified): every record carries a fixed
    record key 0..255 (from a hash of its pseudonym); a cell's key is the sum of its records'
    keys mod 256, so the same cell always gets the same key and the same published value
    (consistent across tables and runs). The perturbation table:
      count 0       -> 0
      count 1..4    -> 5 with probability count/5, else 0 (by cell key): never published as is,
                       unbiased on average;
      count >= 5    -> count + d, d in -2..+2 uniformly by cell key, never below 5.
    Totals are sums of published cells, so no protected count can be recovered by differencing
    a published total. -#}
{% macro cell_key_perturb(count, cell_key) -%}
    case
        when {{ count }} = 0 then 0
        when {{ count }} between 1 and 4 then case when {{ cell_key }} < {{ count }} * 256 / 5 then 5 else 0 end
        else greatest({{ count }} + ({{ cell_key }} % 5) - 2, 5)
    end
{%- endmacro %}

{% macro record_key(expr) -%}
    ({{ stable_hash(expr ~ " || 'record-key'") }} % 256)
{%- endmacro %}
