-- Issue 15 (diagnosis of a refused refresh token): when the stored refresh
-- token was issued (unix ms; 0: before this column, unknown) and how many
-- times it was rotated since the connect that began its chain.
ALTER TABLE tokens ADD COLUMN refresh_issued_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN rotations BIGINT NOT NULL DEFAULT 0;
