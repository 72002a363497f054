"""Operations: the ranked list of open exceptions across flows, re-checked and closed when cleared."""
