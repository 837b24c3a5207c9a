from enum import StrEnum


class ProviderEnum(StrEnum):
    BUILTIN = "builtin"
    GEMINI = "gemini"
    NOVITA = "novita"
    OPENAI = "openai"
    OPENROUTER = "openrouter"

    def __str__(self) -> str:
        return str(self.value)
