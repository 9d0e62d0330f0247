import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Scoped } from '@tidemark/runtime';
import { AlertingService } from './alerting.service';
import { http } from './http';

/** CRUD over alert rules: `GET/POST /v1/alert-rules`, `GET/PUT/DELETE /v1/alert-rules/:id`. 400 names each bad field. */
@Scoped('admin')
@Controller('v1/alert-rules')
export class RulesController {
  constructor(private readonly alerting: AlertingService) {}

  @Get()
  list() {
    return { rules: this.alerting.listRules() };
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return http(() => this.alerting.getRule(id));
  }

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown) {
    return http(() => this.alerting.createRule(body));
  }

  @Put(':id')
  async replace(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) res: FastifyReply) {
    const { rule, created } = await http(() => this.alerting.replaceRule(id, body));
    res.status(created ? 201 : 200);
    return rule;
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string) {
    await http(() => this.alerting.deleteRule(id));
  }
}
