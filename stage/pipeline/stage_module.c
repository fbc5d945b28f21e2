/* stage_module.c — the one symbol stampvet.so exports (dia_stage.h). */
#include "dia_stage.h"
#include "pipeline/stage_plugin.h"

DIA_EXPORT const dia_stage_descriptor *dia_stage_entry(void)
{
    return sv_stage_descriptor();
}
